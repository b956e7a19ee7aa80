package meta

import "fmt"

// Meta batches at most 1,000 entries and 1,000 items in one delivery. Decode
// decodes no more than that of a payload, so that its memory and time are
// bounded by these numbers rather than by the body size: a 4 MiB body of
// empty items holds 1.4 million of them, and decoding them all took 900 MB.
// What is beyond is not decoded; it is reported as one too_many_items
// ItemError, and the caller dead-letters the raw record.
const (
	maxEntries = 1000
	maxItems   = 1000
)

// withinLimits reports whether body certainly holds at most maxEntries
// entries and maxItems items, so that Decode's one-pass decode may expand it
// whole. It counts the objects that open at the depths of entries
// ({"entry":[{) and of items ({"entry":[{"messaging":[{), an upper bound of
// both whatever the keys, in one pass without allocating.
func withinLimits(body []byte) bool {
	const entryDepth, itemDepth = 3, 5
	var depth, entries, items int
	inString, escaped := false, false
	for _, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if c == '{' && depth == entryDepth {
				entries++
			} else if c == '{' && depth == itemDepth {
				items++
			}
			if entries > maxEntries || items > maxItems {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

// budget is what the rest of a payload may decode, in payload order, and
// what was left out.
type budget struct {
	entries, items             int
	excessEntries, excessItems int
	// firstExcess is the path of the first element left out.
	firstExcess string
}

func newBudget() *budget {
	return &budget{entries: maxEntries, items: maxItems}
}

// capArray returns raw, a valid JSON value, cut to its first n elements when
// it is an array of more, and how many elements the array holds. Other values
// are returned as they are, with -1, for the caller's decode to report.
func capArray(raw []byte, n int) ([]byte, int) {
	i := 0
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	if i == len(raw) || raw[i] != '[' {
		return raw, -1
	}
	var (
		depth, count, end  int
		inString, escaped  bool
		sawElement, closed bool
	)
	for j := i + 1; j < len(raw) && !closed; j++ {
		c := raw[j]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case (c == '}' || c == ']') && depth > 0:
			depth--
		case c == ']':
			closed = true
			continue
		case c == ',' && depth == 0:
			count++
			if count == n {
				end = j
			}
			continue
		}
		sawElement = true
	}
	if sawElement {
		count++
	}
	switch {
	case count <= n:
		return raw, count
	case n == 0:
		return []byte("[]"), count
	}
	return append(raw[:end:end], ']'), count
}

// takeEntries cuts the entry array raw to what the budget allows.
func (b *budget) takeEntries(raw []byte) []byte {
	kept, count := capArray(raw, b.entries)
	if count > b.entries {
		b.firstExcess = entryPath(b.entries, "", -1)
		b.excessEntries = count - b.entries
	}
	return kept
}

// takeItems cuts list (of entry i) to what the budget allows and takes what
// it keeps from the budget.
func (b *budget) takeItems(raw []byte, i int, list string) []byte {
	kept, count := capArray(raw, b.items)
	switch {
	case count > b.items:
		if b.firstExcess == "" {
			b.firstExcess = entryPath(i, list, b.items)
		}
		b.excessItems += count - b.items
		b.items = 0
	case count > 0:
		b.items -= count
	}
	return kept
}

// badExcess is the ItemError for what the budget left out, if anything.
func (b *budget) badExcess() (ItemError, bool) {
	if b.excessEntries == 0 && b.excessItems == 0 {
		return ItemError{}, false
	}
	return ItemError{
		Path:   b.firstExcess,
		Reason: ReasonTooManyItems,
		Detail: fmt.Sprintf("%d entries and %d items beyond Meta's limit of %d per payload were not decoded", b.excessEntries, b.excessItems, maxItems),
	}, true
}
