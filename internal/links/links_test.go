package links

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuild(t *testing.T) {
	longRef := strings.Repeat("aZ9-_=", 347) + "x" // 2,083 characters
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"instagram thread", Spec{Platform: Instagram, Handle: "your_username", Ref: "summer_promo"}, "https://ig.me/m/your_username?ref=summer_promo"},
		{"instagram handle with @ and periods", Spec{Platform: "Instagram", Handle: " @shop.berlin_1 ", Ref: "a"}, "https://ig.me/m/shop.berlin_1?ref=a"},
		{"instagram ref with = is written as is", Spec{Platform: Instagram, Handle: "shop", Ref: "c=1-x_y"}, "https://ig.me/m/shop?ref=c=1-x_y"},
		{"messenger page username", Spec{Platform: Messenger, Handle: "OriginalCoastClothing", Ref: "summer_coupon"}, "https://m.me/OriginalCoastClothing?ref=summer_coupon"},
		{"messenger page username with _ and -", Spec{Platform: Messenger, Handle: "your_page-1", Ref: "qr-store-berlin"}, "https://m.me/your_page-1?ref=qr-store-berlin"},
		{"messenger short page username", Spec{Platform: Messenger, Handle: "shop", Ref: "a"}, "https://m.me/shop?ref=a"},
		{"messenger page id", Spec{Platform: Messenger, Handle: "104123456789012", Ref: "qr-store-berlin"}, "https://m.me/104123456789012?ref=qr-store-berlin"},
		{"messenger ref is URL-encoded", Spec{Platform: Messenger, Handle: "shop.page", Ref: "a=b"}, "https://m.me/shop.page?ref=a%3Db"},
		{"messenger prefilled text", Spec{Platform: Messenger, Handle: "shop.page", Ref: "x", Text: "Hello and Welcome & more?"}, "https://m.me/shop.page?ref=x&text=Hello%20and%20Welcome%20%26%20more%3F"},
		{"messenger opt-in", Spec{Platform: Messenger, Kind: KindOptin, Handle: "OriginalCoastClothing", Topic: "weekly deals", Cadence: "weekly"}, "https://m.me/rn/OriginalCoastClothing?topic=weekly%20deals&cadence=weekly"},
		{"opt-in cadence defaults to daily", Spec{Platform: Messenger, Kind: "OPTIN", Handle: "shop.page", Topic: "news"}, "https://m.me/rn/shop.page?topic=news&cadence=daily"},
		{"opt-in monthly", Spec{Platform: Messenger, Kind: KindOptin, Handle: "shop.page", Topic: "Neuheiten 2026", Cadence: "Monthly"}, "https://m.me/rn/shop.page?topic=Neuheiten%202026&cadence=monthly"},
		{"longest ref on instagram", Spec{Platform: Instagram, Handle: strings.Repeat("a", 30), Ref: longRef}, "https://ig.me/m/" + strings.Repeat("a", 30) + "?ref=" + longRef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Build(tt.spec)
			if err != nil {
				t.Fatalf("Build(%+v): %v", tt.spec, err)
			}
			if got != tt.want {
				t.Errorf("Build(%+v) = %q, want %q", tt.spec, got, tt.want)
			}
			back, err := Parse(got)
			if err != nil {
				t.Fatalf("Parse(%q): %v", got, err)
			}
			norm := tt.spec.Normalize()
			if norm.Kind == KindOptin {
				norm.Ref = ""
			}
			if diff := cmp.Diff(norm, back); diff != "" {
				t.Errorf("Parse(Build(spec)) differs from spec (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildRefused(t *testing.T) {
	tests := []struct {
		name       string
		spec       Spec
		field, msg string // msg: a part of the rule's wording
	}{
		{"no platform", Spec{Handle: "shop", Ref: "a"}, "platform", "instagram or messenger"},
		{"unknown platform", Spec{Platform: "whatsapp", Handle: "shop", Ref: "a"}, "platform", "instagram or messenger"},
		{"unknown kind", Spec{Platform: Instagram, Kind: "story", Handle: "shop", Ref: "a"}, "kind", "thread or optin"},
		{"empty ref", Spec{Platform: Instagram, Handle: "shop"}, "ref", "must not be empty"},
		{"ref too long", Spec{Platform: Instagram, Handle: "shop", Ref: strings.Repeat("a", 2084)}, "ref", "2084 characters long: Meta takes at most 2,083"},
		{"ref with a space", Spec{Platform: Instagram, Handle: "shop", Ref: "summer promo"}, "ref", `' ' at position 7 is not allowed: Meta takes only A-Z a-z 0-9 - _ =`},
		{"ref with an accent", Spec{Platform: Messenger, Handle: "shop.page", Ref: "été"}, "ref", `'é' at position 1`},
		{"ref with a period", Spec{Platform: Messenger, Handle: "shop.page", Ref: "a.b"}, "ref", "A-Z a-z 0-9 - _ ="},
		{"ref with a plus", Spec{Platform: Messenger, Handle: "shop.page", Ref: "a+b"}, "ref", "A-Z a-z 0-9 - _ ="},
		{"instagram no handle", Spec{Platform: Instagram, Ref: "a"}, "handle", "missing"},
		{"instagram handle too long", Spec{Platform: Instagram, Handle: strings.Repeat("a", 31), Ref: "a"}, "handle", "at most 30"},
		{"instagram handle leading period", Spec{Platform: Instagram, Handle: ".shop", Ref: "a"}, "handle", "start or end with a period"},
		{"instagram handle trailing period", Spec{Platform: Instagram, Handle: "shop.", Ref: "a"}, "handle", "start or end with a period"},
		{"instagram handle double period", Spec{Platform: Instagram, Handle: "sh..op", Ref: "a"}, "handle", "two periods"},
		{"instagram handle hyphen", Spec{Platform: Instagram, Handle: "sh-op", Ref: "a"}, "handle", "letters, digits, periods and underscores"},
		{"instagram text", Spec{Platform: Instagram, Handle: "shop", Ref: "a", Text: "hi"}, "text", "Messenger links only"},
		{"instagram opt-in", Spec{Platform: Instagram, Kind: KindOptin, Handle: "shop", Topic: "news"}, "kind", "Messenger only"},
		{"page no handle", Spec{Platform: Messenger, Ref: "a"}, "handle", "missing"},
		{"page username too long", Spec{Platform: Messenger, Handle: strings.Repeat("p", 51), Ref: "a"}, "handle", "at most 50"},
		{"page username with a space", Spec{Platform: Messenger, Handle: "shop page", Ref: "a"}, "handle", "letters, digits, periods, underscores and hyphens, not ' '"},
		{"page username with a slash", Spec{Platform: Messenger, Handle: "shop/page", Ref: "a"}, "handle", "not '/'"},
		{"page username with a question mark", Spec{Platform: Messenger, Handle: "shop?x=1", Ref: "a"}, "handle", "not '?'"},
		{"page id too long", Spec{Platform: Messenger, Handle: strings.Repeat("1", 21), Ref: "a"}, "handle", "20 digits"},
		{"thread with a topic", Spec{Platform: Messenger, Handle: "shop.page", Ref: "a", Topic: "news"}, "topic", "only opt-in links"},
		{"opt-in without topic", Spec{Platform: Messenger, Kind: KindOptin, Handle: "shop.page"}, "topic", "needs a topic"},
		{"opt-in topic with punctuation", Spec{Platform: Messenger, Kind: KindOptin, Handle: "shop.page", Topic: "deals!"}, "topic", "letters, digits and spaces"},
		{"opt-in topic double space", Spec{Platform: Messenger, Kind: KindOptin, Handle: "shop.page", Topic: "a  b"}, "topic", "single spaces"},
		{"opt-in topic too long", Spec{Platform: Messenger, Kind: KindOptin, Handle: "shop.page", Topic: strings.Repeat("t", 101)}, "topic", "at most 100"},
		{"opt-in bad cadence", Spec{Platform: Messenger, Kind: KindOptin, Handle: "shop.page", Topic: "news", Cadence: "hourly"}, "cadence", "daily, weekly or monthly"},
		{"opt-in with text", Spec{Platform: Messenger, Kind: KindOptin, Handle: "shop.page", Topic: "news", Text: "hi"}, "text", "no prefilled text"},
		{"link too long for a QR code", Spec{Platform: Messenger, Handle: "shop.page", Ref: strings.Repeat("a", 2083), Text: strings.Repeat("b", 300)}, "text", "longer than the 2331 a QR code holds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Build(tt.spec)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Build(%+v) = %q, %v; want a *FieldError", tt.spec, got, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Rule, tt.msg) {
				t.Errorf("Build error = %q, want field %s and a rule containing %q", err, tt.field, tt.msg)
			}
		})
	}
}

func TestCheckRef(t *testing.T) {
	tests := []struct {
		ref string
		ok  bool
	}{
		{"a", true},
		{"ABCxyz019-_=", true},
		{strings.Repeat("Z", 2083), true},
		{"", false},
		{strings.Repeat("Z", 2084), false},
		{"a/b", false},
		{"a%20b", false},
		{"a\nb", false},
		{"😀", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.20q", tt.ref), func(t *testing.T) {
			err := CheckRef(tt.ref)
			if got := err == nil; got != tt.ok {
				t.Errorf("CheckRef(%.40q) = %v, want ok %v", tt.ref, err, tt.ok)
			}
		})
	}
}

func TestParseRefusesOtherLinks(t *testing.T) {
	for _, link := range []string{
		"http://ig.me/m/shop?ref=a",            // not https
		"https://example.com/m/shop?ref=a",     // other host
		"https://ig.me/shop?ref=a",             // older ig.me form reftrail does not build
		"https://m.me/shop.page?ref=a%20b",     // ref breaking the rules
		"https://m.me/shop.page?ref=a=b",       // not encoded as Build encodes
		"https://m.me/shop.page?ref=a&other=1", // a parameter Build never writes
	} {
		if s, err := Parse(link); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", link, s)
		}
	}
}

func TestRefBase(t *testing.T) {
	tests := []struct {
		name                       string
		campaign, channel, variant string
		want                       string
	}{
		{"all parts", "Spring Sale 2026", "QR Poster", "A", "spring-sale-2026_qr-poster_a"},
		{"accents and punctuation", "Été à Paris!", "E-mail / News", "", "ete-a-paris_e-mail-news"},
		{"only campaign", "summer", "", "", "summer"},
		{"empty parts skipped", "", "bio", "b", "bio_b"},
		{"no letters in a part", "Summer", "***", "2", "summer_2"},
		{"long parts cut at 80", strings.Repeat("abcdefghi ", 20), "x", "", strings.TrimRight(strings.Repeat("abcdefghi-", 8), "-")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RefBase(tt.campaign, tt.channel, tt.variant)
			if err != nil {
				t.Fatalf("RefBase: %v", err)
			}
			if got != tt.want {
				t.Errorf("RefBase(%q, %q, %q) = %q, want %q", tt.campaign, tt.channel, tt.variant, got, tt.want)
			}
			if err := CheckRef(got); err != nil {
				t.Errorf("generated ref %q breaks Meta's rules: %v", got, err)
			}
		})
	}
	if _, err := RefBase("", "!!", " "); err == nil {
		t.Errorf("RefBase of nothing readable: want an error")
	}
}

func TestGenerateRef(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		taken []string
		want  string
	}{
		{"free", nil, "spring_qr"},
		{"taken once", []string{"spring_qr"}, "spring_qr-2"},
		{"taken twice", []string{"spring_qr", "spring_qr-2"}, "spring_qr-3"},
		{"a gap is reused", []string{"spring_qr", "spring_qr-3"}, "spring_qr-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := map[string]bool{}
			for _, r := range tt.taken {
				set[r] = true
			}
			got, err := GenerateRef(ctx, "Spring", "QR", "", func(_ context.Context, ref string) (bool, error) { return set[ref], nil })
			if err != nil {
				t.Fatalf("GenerateRef: %v", err)
			}
			if got != tt.want {
				t.Errorf("GenerateRef = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("lookup fails", func(t *testing.T) {
		boom := errors.New("catalog down")
		_, err := GenerateRef(ctx, "a", "", "", func(context.Context, string) (bool, error) { return false, boom })
		if !errors.Is(err, boom) {
			t.Errorf("GenerateRef error = %v, want %v", err, boom)
		}
	})
	t.Run("all taken", func(t *testing.T) {
		_, err := GenerateRef(ctx, "a", "", "", func(context.Context, string) (bool, error) { return true, nil })
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "ref" {
			t.Errorf("GenerateRef error = %v, want a ref FieldError", err)
		}
	})
}

func TestPrerequisites(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []string // a word each prerequisite must contain, in order
	}{
		{"instagram", Spec{Platform: Instagram}, []string{"Icebreaker", "Instagram Web", "live"}},
		{"messenger thread", Spec{Platform: Messenger}, []string{"Get Started", "messaging_referrals"}},
		{"messenger opt-in", Spec{Platform: Messenger, Kind: KindOptin}, []string{"Register the topic", "iOS 383"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Prerequisites(tt.spec)
			if len(got) != len(tt.want) {
				t.Fatalf("Prerequisites = %q, want %d items", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("prerequisite %d = %q, want it to mention %q", i, got[i], w)
				}
			}
		})
	}
}

func TestSameAs(t *testing.T) {
	a := Link{Ref: "r", Platform: Instagram, Handle: "shop", Kind: KindThread, URL: "u", Campaign: "c"}
	b := a
	b.CreatedAt = b.CreatedAt.AddDate(1, 0, 0)
	if !a.SameAs(b) {
		t.Errorf("links differing only in CreatedAt: SameAs = false")
	}
	b.Variant = "v"
	if a.SameAs(b) {
		t.Errorf("links differing in Variant: SameAs = true")
	}
}
