package links

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxRefLen is the longest ref Meta delivers (characters, all ASCII).
const MaxRefLen = 2083

// CheckRef applies Meta's rule for ref: 1 to 2,083 characters of A-Z a-z 0-9
// - _ =. The error (a *FieldError for "ref") names the rule broken.
func CheckRef(ref string) error {
	if ref == "" {
		return fieldErr("ref", "must not be empty: Meta takes 1 to 2,083 characters of A-Z a-z 0-9 - _ =")
	}
	if n := utf8.RuneCountInString(ref); n > MaxRefLen {
		return fieldErr("ref", "is %d characters long: Meta takes at most 2,083", n)
	}
	for i, r := range []rune(ref) {
		if !refRune(r) {
			return fieldErr("ref", "character %q at position %d is not allowed: Meta takes only A-Z a-z 0-9 - _ =", r, i+1)
		}
	}
	return nil
}

func refRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '='
}

// checkInstagramUsername applies Instagram's username rules: 1 to 30
// characters of letters, digits, periods and underscores, no period first,
// last or twice in a row.
func checkInstagramUsername(h string) error {
	switch {
	case h == "":
		return fieldErr("handle", "the Instagram username is missing")
	case len(h) > 30:
		return fieldErr("handle", "an Instagram username has at most 30 characters")
	case strings.HasPrefix(h, ".") || strings.HasSuffix(h, "."):
		return fieldErr("handle", "an Instagram username does not start or end with a period")
	case strings.Contains(h, ".."):
		return fieldErr("handle", "an Instagram username has no two periods in a row")
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_') {
			return fieldErr("handle", "an Instagram username has only letters, digits, periods and underscores, not %q", r)
		}
	}
	return nil
}

// checkPage accepts a Page's numeric id or its username: up to 50 letters,
// digits, periods, underscores and hyphens. Facebook gives new Pages narrower
// names (5 or more letters, digits and periods); reftrail refuses what cannot
// be a name in an m.me link rather than every name Facebook would refuse
// today, so that no existing Page's m.me name is turned away.
func checkPage(h string) error {
	if h == "" {
		return fieldErr("handle", "the Page's username or id is missing")
	}
	digits := strings.IndexFunc(h, func(r rune) bool { return r < '0' || r > '9' }) < 0
	if digits {
		if len(h) > 20 {
			return fieldErr("handle", "a Page id has at most 20 digits")
		}
		return nil
	}
	if len(h) > 50 {
		return fieldErr("handle", "a Page username has at most 50 characters (or use the Page's numeric id)")
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fieldErr("handle", "a Page username has only letters, digits, periods, underscores and hyphens, not %q", r)
		}
	}
	return nil
}

// maxTopicLen is reftrail's own cap on a topic: Meta states none, and a topic
// is a short label people see when they opt in.
const maxTopicLen = 100

// checkTopic applies Meta's rule for an opt-in topic: letters and digits
// ("no special characters"), with single spaces between words as in Meta's
// own example "weekly deals".
func checkTopic(t string) error {
	switch {
	case t == "":
		return fieldErr("topic", "an opt-in link needs a topic, such as \"weekly deals\"")
	case utf8.RuneCountInString(t) > maxTopicLen:
		return fieldErr("topic", "has at most %d characters", maxTopicLen)
	case strings.Contains(t, "  "):
		return fieldErr("topic", "words are separated by single spaces")
	}
	for _, r := range t {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ') {
			return fieldErr("topic", "has only letters, digits and spaces, not %q", r)
		}
	}
	return nil
}

// maxBaseLen keeps generated refs readable (and leaves room for a suffix).
const maxBaseLen = 80

// RefBase returns the readable ref campaign, channel and variant make: each
// part in lower case with accents removed and every run of other characters
// turned into "-", the parts joined by "_", empty parts left out. "Spring
// Sale 2026", "QR Poster", "A" gives "spring-sale-2026_qr-poster_a".
func RefBase(campaign, channel, variant string) (string, error) {
	var parts []string
	for _, p := range []string{campaign, channel, variant} {
		if s := slug(p); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "", fieldErr("campaign", "a ref is made from campaign, channel and variant: give at least one with letters or digits, or give a ref")
	}
	base := strings.Join(parts, "_")
	if len(base) > maxBaseLen {
		base = strings.TrimRight(base[:maxBaseLen], "-_")
	}
	return base, nil
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, r): // accents left by NFD: é -> e
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
	}
	return b.String()
}

// maxSuffix bounds GenerateRef's search; a campaign with this many links of
// one channel and variant wants refs chosen by hand.
const maxSuffix = 1000

// GenerateRef returns RefBase(campaign, channel, variant), or it followed by
// "-2", "-3", ... up to maxSuffix, the first that taken reports free. taken
// looks the ref up in the catalog. Two callers racing may pick the same ref;
// the catalog's writer must check again when it stores the link.
func GenerateRef(ctx context.Context, campaign, channel, variant string, taken func(context.Context, string) (bool, error)) (string, error) {
	base, err := RefBase(campaign, channel, variant)
	if err != nil {
		return "", err
	}
	for i := 1; i <= maxSuffix; i++ {
		ref := base
		if i > 1 {
			ref += "-" + strconv.Itoa(i)
		}
		used, err := taken(ctx, ref)
		if err != nil {
			return "", fmt.Errorf("generating a ref: %w", err)
		}
		if !used {
			return ref, nil
		}
	}
	return "", fieldErr("ref", "%s-2 to %s-%d are all taken: choose a ref", base, base, maxSuffix)
}
