package chstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// rejectionCodes are the ClickHouse exception codes by which the server
// refuses the data of an insert, so that sending the same rows again fails the
// same way. Every other error (network, server down or restarting, timeouts,
// too many parts, memory, a missing table an operator may restore) may pass.
var rejectionCodes = map[int32]bool{
	6:   true, // CANNOT_PARSE_TEXT
	27:  true, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
	38:  true, // CANNOT_PARSE_DATE
	41:  true, // CANNOT_PARSE_DATETIME
	53:  true, // TYPE_MISMATCH
	69:  true, // ARGUMENT_OUT_OF_BOUND
	70:  true, // CANNOT_CONVERT_TYPE
	72:  true, // CANNOT_PARSE_NUMBER
	117: true, // INCORRECT_DATA
	131: true, // TOO_LARGE_STRING_SIZE
	321: true, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
	395: true, // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO: a check on the rows (a DEFAULT, a view)
	469: true, // VIOLATED_CONSTRAINT
}

// tooManyParts is TOO_MANY_PARTS, which covers both a transient state (merges
// behind inserts) and a refusal of the rows themselves: a block spanning more
// than max_partitions_per_insert_block partitions (100 by default on current
// releases; 18.16 has no such limit).
const tooManyParts = 252

// IsRejected reports whether err is ClickHouse refusing an insert's data:
// the same rows would fail again however often they are sent, while a part of
// them may pass. Callers split such a batch to isolate the rows refused
// (a block over max_partitions_per_insert_block passes once split) and retry
// any other error as it is.
func IsRejected(err error) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	if ex.Code == tooManyParts {
		return strings.Contains(ex.Message, "partitions for single INSERT block")
	}
	return rejectionCodes[ex.Code]
}

// Reason returns the server's reason for an error IsRejected accepts: the
// exception's code and message without the driver's wrapping, for a dead
// letter's detail.
func Reason(err error) string {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return fmt.Sprintf("ClickHouse code %d: %s", ex.Code, ex.Message)
	}
	return err.Error()
}
