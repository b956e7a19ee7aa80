// Package links builds and checks the ig.me and m.me links whose referrals
// reftrail measures, and describes a link of the catalog (Link). It follows
// Meta's rules (docs: "ig.me Links", "m.me Links") so that a link refused here
// is one Meta would have dropped the ref of, and it says what each link needs
// on Meta's side to deliver its ref (Prerequisites).
//
// It draws the links' QR codes too (QRCode). It has no dependency on storage
// or HTTP: the console and reftrailctl share it.
package links

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Platform is the Meta product a link opens.
type Platform string

// Platforms, spelled as the console API and the catalog spell them.
const (
	Instagram Platform = "instagram"
	Messenger Platform = "messenger"
)

// ParsePlatform accepts a platform name in any case.
func ParsePlatform(s string) (Platform, error) {
	switch p := Platform(strings.ToLower(strings.TrimSpace(s))); p {
	case Instagram, Messenger:
		return p, nil
	}
	return "", fmt.Errorf("platform %q: must be instagram or messenger", s)
}

// Kind is what a link asks for.
type Kind string

// Kinds: a conversation (ig.me/m, m.me) or a marketing messages opt-in
// (m.me/rn, Messenger only).
const (
	KindThread Kind = "thread"
	KindOptin  Kind = "optin"
)

// Cadences of a marketing messages opt-in; Meta's default is daily.
var cadences = []string{"daily", "weekly", "monthly"}

// Spec is what a link is built from. Zero Kind means KindThread.
type Spec struct {
	Platform Platform
	// Handle is the Instagram username, or the Page's username or numeric id.
	// A leading @ is dropped.
	Handle string
	Kind   Kind
	// Ref is carried by thread links; opt-in links have no ref in their URL
	// (Meta's m.me/rn form has none), the ref only names them in the catalog.
	Ref string
	// Text is prefilled in the person's composer (Messenger thread links only).
	Text string
	// Topic and Cadence make an opt-in link; Cadence defaults to daily.
	Topic   string
	Cadence string
}

// MaxURLBytes is the longest link Build makes: the capacity of the largest QR
// code (version 40) at error correction M in byte mode, so that every link
// has a QR code a phone reads.
const MaxURLBytes = 2331

// FieldError says which field of a Spec breaks which rule.
type FieldError struct {
	Field string
	Rule  string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Rule }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Rule: fmt.Sprintf(format, args...)}
}

// Normalize returns s with the handle's @ and surrounding spaces removed, the
// platform in lower case and an opt-in's cadence defaulted, as Build sees it.
func (s Spec) Normalize() Spec {
	s.Platform = Platform(strings.ToLower(strings.TrimSpace(string(s.Platform))))
	s.Handle = strings.TrimPrefix(strings.TrimSpace(s.Handle), "@")
	s.Kind = Kind(strings.ToLower(strings.TrimSpace(string(s.Kind))))
	if s.Kind == "" {
		s.Kind = KindThread
	}
	s.Topic = strings.TrimSpace(s.Topic)
	s.Cadence = strings.ToLower(strings.TrimSpace(s.Cadence))
	if s.Kind == KindOptin && s.Cadence == "" {
		s.Cadence = "daily"
	}
	return s
}

// Build checks s against Meta's rules and returns the link's URL. Errors are
// *FieldError naming the field and the rule.
//
//	thread, instagram: https://ig.me/m/<username>?ref=<ref>
//	thread, messenger: https://m.me/<page>?ref=<ref>[&text=<text>]
//	optin, messenger:  https://m.me/rn/<page>?topic=<topic>&cadence=<cadence>
//
// The ref is percent-encoded on m.me links, as Meta asks; on ig.me it is
// written as is (its characters need no encoding in a query). Topic and text
// are percent-encoded with %20 for spaces, as in Meta's examples.
func Build(s Spec) (string, error) {
	s = s.Normalize()
	if _, err := ParsePlatform(string(s.Platform)); err != nil {
		return "", fieldErr("platform", "must be instagram or messenger")
	}
	var u string
	switch s.Kind {
	case KindThread:
		if err := CheckRef(s.Ref); err != nil {
			return "", err
		}
		if s.Topic != "" || s.Cadence != "" {
			return "", fieldErr("topic", "only opt-in links (kind optin) have a topic and cadence")
		}
		switch s.Platform {
		case Instagram:
			if err := checkInstagramUsername(s.Handle); err != nil {
				return "", err
			}
			if s.Text != "" {
				return "", fieldErr("text", "prefilled text is for Messenger links only")
			}
			u = "https://ig.me/m/" + s.Handle + "?ref=" + s.Ref
		case Messenger:
			if err := checkPage(s.Handle); err != nil {
				return "", err
			}
			u = "https://m.me/" + s.Handle + "?ref=" + escape(s.Ref)
			if s.Text != "" {
				u += "&text=" + escape(s.Text)
			}
		}
	case KindOptin:
		if s.Platform != Messenger {
			return "", fieldErr("kind", "opt-in links (m.me/rn) exist for Messenger only")
		}
		if err := checkPage(s.Handle); err != nil {
			return "", err
		}
		if s.Text != "" {
			return "", fieldErr("text", "opt-in links take no prefilled text")
		}
		if err := checkTopic(s.Topic); err != nil {
			return "", err
		}
		if !oneOf(s.Cadence, cadences) {
			return "", fieldErr("cadence", "must be daily, weekly or monthly")
		}
		u = "https://m.me/rn/" + s.Handle + "?topic=" + escape(s.Topic) + "&cadence=" + s.Cadence
	default:
		return "", fieldErr("kind", "must be thread or optin")
	}
	if len(u) > MaxURLBytes {
		field := "ref"
		if s.Text != "" {
			field = "text"
		}
		return "", fieldErr(field, "the link would be %d bytes, longer than the %d a QR code holds", len(u), MaxURLBytes)
	}
	return u, nil
}

// Parse reads a link Build made back into its Spec (with the ref empty for an
// opt-in link), so that a catalog row's URL tells its topic, cadence and text.
func Parse(link string) (Spec, error) {
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "https" {
		return Spec{}, fmt.Errorf("parsing link %q: not an https URL", link)
	}
	q := u.Query()
	var s Spec
	switch path := strings.Trim(u.Path, "/"); {
	case u.Host == "ig.me" && strings.HasPrefix(path, "m/"):
		s = Spec{Platform: Instagram, Kind: KindThread, Handle: strings.TrimPrefix(path, "m/"), Ref: q.Get("ref")}
	case u.Host == "m.me" && strings.HasPrefix(path, "rn/"):
		s = Spec{Platform: Messenger, Kind: KindOptin, Handle: strings.TrimPrefix(path, "rn/"), Topic: q.Get("topic"), Cadence: q.Get("cadence")}
	case u.Host == "m.me":
		s = Spec{Platform: Messenger, Kind: KindThread, Handle: path, Ref: q.Get("ref"), Text: q.Get("text")}
	default:
		return Spec{}, fmt.Errorf("parsing link %q: not an ig.me/m or m.me link", link)
	}
	if built, err := Build(s); err != nil || built != link {
		return Spec{}, fmt.Errorf("parsing link %q: not a link reftrail builds", link)
	}
	return s, nil
}

// Prerequisites lists, in plain words, what Meta needs before a link of s
// delivers its ref: without them the link still opens a conversation, but
// reftrail sees no referral (or, for an opt-in, no registered topic).
func Prerequisites(s Spec) []string {
	s = s.Normalize()
	switch {
	case s.Platform == Instagram:
		return []string{
			"Set at least one Icebreaker on the Instagram account: without one, new conversations from this link arrive without the ref.",
			"ig.me links open in the Instagram app only, not on Instagram Web.",
			"The app must be live (Advanced Access); until then only people with a role on the app are tracked.",
		}
	case s.Kind == KindOptin:
		return []string{
			"Register the topic before sharing the link: send yourself an opt-in request with this topic and accept it. People opening a link with an unregistered topic get the Page's general opt-in instead.",
			"m.me/rn links need Messenger for iOS 383 or later; older apps open the Page's conversation.",
		}
	default:
		return []string{
			"Set a Get Started button on the Page: new conversations carry the ref in its postback.",
			"The app must subscribe to messaging_postbacks and messaging_referrals, and be live (Advanced Access) to track everyone.",
		}
	}
}

// Link is one entry of the catalog: a link and the campaign it belongs to.
// The ref is its key; a newer version of a ref replaces the older.
type Link struct {
	Ref       string
	Platform  Platform
	AccountID string // Page or Instagram account id; optional
	Handle    string
	Kind      Kind
	URL       string
	Campaign  string
	Channel   string
	Medium    string
	Variant   string
	Note      string
	CreatedAt time.Time
	Archived  bool
}

// SameAs reports whether l and o describe the same link: every attribute but
// CreatedAt. Creating a link that exists with the same attributes is a no-op.
func (l Link) SameAs(o Link) bool {
	l.CreatedAt, o.CreatedAt = time.Time{}, time.Time{}
	return l == o
}

// escape percent-encodes a query value with %20 for spaces.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
