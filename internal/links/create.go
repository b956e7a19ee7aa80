package links

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Input is a request for a new link, as the console's API and form and
// reftrailctl take it: a Spec plus the catalog's labels. An empty Ref is made
// from Campaign, Channel and Variant.
type Input struct {
	Spec
	Campaign, Channel, Medium, Variant, Note string
	// AccountID is the Page or Instagram account id, digits, optional.
	AccountID string
}

// Catalog is what Create needs of the links catalog; chstore.Store has it.
type Catalog interface {
	// Link returns the latest version of ref; ok is false when there is none.
	Link(ctx context.Context, ref string) (l Link, ok bool, err error)
	// InsertLink stores l as the newest version of its ref.
	InsertLink(ctx context.Context, l Link) error
}

// ErrConflict reports that the ref holds another link.
var ErrConflict = errors.New("the ref is already used by another link")

// Limits of the catalog's free-text fields.
const (
	MaxLabelLen = 200 // campaign, channel, medium, variant
	MaxNoteLen  = 2000
)

// Create checks in, makes its ref when it has none, and adds the link to
// catalog with CreatedAt now. created is false when the ref already held the
// same link (SameAs): a repeated create changes nothing and returns the
// stored link. Errors: *FieldError for bad input, ErrConflict when the ref
// holds another link, or the catalog's.
//
// The lookup and the insert are not atomic: two callers creating one new ref
// at once both succeed, and the later write wins.
func Create(ctx context.Context, catalog Catalog, in Input, now time.Time) (l Link, created bool, err error) {
	labels := []struct{ name, value string }{{"campaign", in.Campaign}, {"channel", in.Channel}, {"medium", in.Medium}, {"variant", in.Variant}}
	for _, f := range labels {
		if utf8.RuneCountInString(f.value) > MaxLabelLen {
			return l, false, fieldErr(f.name, "has at most %d characters", MaxLabelLen)
		}
	}
	if utf8.RuneCountInString(in.Note) > MaxNoteLen {
		return l, false, fieldErr("note", "has at most %d characters", MaxNoteLen)
	}
	account := strings.TrimSpace(in.AccountID)
	if strings.Trim(account, "0123456789") != "" || len(account) > 20 {
		return l, false, fieldErr("account_id", "is the numeric id of the Page or Instagram account, up to 20 digits")
	}
	spec := in.Spec.Normalize()
	spec.Ref = strings.TrimSpace(spec.Ref)
	ref := spec.Ref
	if ref == "" {
		// Everything but the ref is checked first, so that a bad handle is
		// reported before a ref is made up.
		probe := spec
		probe.Ref = "x"
		if _, err := Build(probe); err != nil {
			return l, false, err
		}
		ref, err = GenerateRef(ctx, in.Campaign, in.Channel, in.Variant, func(ctx context.Context, ref string) (bool, error) {
			_, ok, err := catalog.Link(ctx, ref)
			return ok, err
		})
		if err != nil {
			return l, false, err
		}
	} else if err := CheckRef(ref); err != nil {
		return l, false, err
	}
	if spec.Kind == KindThread {
		spec.Ref = ref
	}
	u, err := Build(spec)
	if err != nil {
		return l, false, err
	}
	l = Link{
		Ref: ref, Platform: spec.Platform, AccountID: account, Handle: spec.Handle, Kind: spec.Kind, URL: u,
		Campaign: strings.TrimSpace(in.Campaign), Channel: strings.TrimSpace(in.Channel), Medium: strings.TrimSpace(in.Medium),
		Variant: strings.TrimSpace(in.Variant), Note: strings.TrimSpace(in.Note), CreatedAt: now.UTC().Truncate(time.Second),
	}
	old, ok, err := catalog.Link(ctx, ref)
	if err != nil {
		return l, false, fmt.Errorf("looking up ref %q: %w", ref, err)
	}
	if ok {
		if old.SameAs(l) {
			return old, false, nil
		}
		return old, false, ErrConflict
	}
	if err := catalog.InsertLink(ctx, l); err != nil {
		return l, false, err
	}
	return l, true, nil
}
