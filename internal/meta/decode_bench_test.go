package meta

import (
	"fmt"
	"strings"
	"testing"
)

// benchPayload is a realistic busy delivery: entries for a few accounts, each
// with a mix of referrals, first messages with referrals, plain messages with
// text, postbacks, echoes and the reads and deliveries that come with them.
func benchPayload(entries, itemsPerEntry int) (body []byte, events int) {
	var b strings.Builder
	b.WriteString(`{"object":"page","entry":[`)
	for e := 0; e < entries; e++ {
		if e > 0 {
			b.WriteByte(',')
		}
		page := fmt.Sprintf("1000000000000%02d", e)
		fmt.Fprintf(&b, `{"id":"%s","time":1717000000000,"messaging":[`, page)
		for i := 0; i < itemsPerEntry; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			psid := fmt.Sprintf("20000000000%05d", e*itemsPerEntry+i)
			ts := 1717000000000 + int64(i)
			head := fmt.Sprintf(`{"sender":{"id":"%s"},"recipient":{"id":"%s"},"timestamp":%d,`, psid, page, ts)
			switch i % 6 {
			case 0:
				b.WriteString(head + `"referral":{"ref":"spring_campaign_qr_store_42","source":"SHORTLINK","type":"OPEN_THREAD"}}`)
				events++
			case 1:
				b.WriteString(head + fmt.Sprintf(`"message":{"mid":"m_%032d","text":"hello, I saw your ad and would like to know more about it","referral":{"ref":"spring_campaign_ad_7","source":"ADS","type":"OPEN_THREAD","ad_id":"120200000000000001","ads_context_data":{"ad_title":"Spring sale","photo_url":"https://example.invalid/p.jpg"}}}}`, i))
				events++
			case 2:
				b.WriteString(head + fmt.Sprintf(`"message":{"mid":"m_%032d","text":"hello","attachments":[{"type":"image","payload":{"url":"https://example.invalid/a.jpg"}}]}}`, i))
				events++
			case 3:
				b.WriteString(head + fmt.Sprintf(`"postback":{"mid":"m_%032d","title":"Get Started","payload":"GET_STARTED","referral":{"ref":"bio_link","source":"SHORTLINK","type":"OPEN_THREAD"}}}`, i))
				events++
			case 4:
				b.WriteString(fmt.Sprintf(`{"sender":{"id":"%s"},"recipient":{"id":"%s"},"timestamp":%d,"message":{"mid":"m_%032d","text":"hello","is_echo":true,"app_id":1517776481860111}}`, page, psid, ts, i))
				events++
			case 5:
				b.WriteString(head + `"read":{"watermark":1717000000000}}`)
			}
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String()), events
}

func BenchmarkDecode(b *testing.B) {
	body, events := benchPayload(10, 60)
	res, err := Decode(body, testSource)
	if err != nil || len(res.Events) != events || len(res.Bad) != 0 {
		b.Fatalf("Decode = %d events, %d bad, %v; want %d events", len(res.Events), len(res.Bad), err, events)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body, testSource); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeLayered measures the fallback path on the same payload, to
// show what the one-pass fast path saves.
func BenchmarkDecodeLayered(b *testing.B) {
	body, events := benchPayload(10, 60)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeLayered(body, testSource); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
