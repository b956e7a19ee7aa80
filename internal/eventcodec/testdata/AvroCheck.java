// AvroCheck runs Apache Avro Java (the reference implementation) for the
// integration tests of package event. Launch it as a single source file:
//
//   java -cp avro.jar:<its dependencies> AvroCheck.java fingerprint SCHEMA...
//     For each schema file, prints its Parsing Canonical Form on one line, then
//     SchemaNormalization.parsingFingerprint64 as 16 hex digits on the next.
//
//   java -cp ... AvroCheck.java decode SCHEMA MESSAGE...
//     Decodes each file, an Avro single-object encoding, with
//     BinaryMessageDecoder (which checks the header and the fingerprint), and
//     prints the record as JSON (GenericData's toString), one line per file.
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;

public class AvroCheck {
  public static void main(String[] args) throws Exception {
    // The platform encoding may be ASCII; the tests compare UTF-8 text.
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    if (args.length < 2) {
      throw new IllegalArgumentException("usage: AvroCheck fingerprint SCHEMA... | decode SCHEMA MESSAGE...");
    }
    switch (args[0]) {
      case "fingerprint":
        for (int i = 1; i < args.length; i++) {
          Schema s = new Schema.Parser().parse(new File(args[i]));
          out.println(SchemaNormalization.toParsingForm(s));
          out.println(String.format("%016x", SchemaNormalization.parsingFingerprint64(s)));
        }
        break;
      case "decode":
        Schema s = new Schema.Parser().parse(new File(args[1]));
        BinaryMessageDecoder<GenericRecord> dec = new BinaryMessageDecoder<>(GenericData.get(), s);
        for (int i = 2; i < args.length; i++) {
          out.println(dec.decode(Files.readAllBytes(new File(args[i]).toPath())));
        }
        break;
      default:
        throw new IllegalArgumentException("unknown mode " + args[0]);
    }
  }
}
