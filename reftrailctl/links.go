package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/links"
)

const linksUsage = `links create --platform P --handle H [--ref R | --campaign C --channel CH --variant V] [flags]
       links list [--campaign C] [--archived] [--limit N]
       links qr REF [--out FILE] [--size N] [--level M|Q|H]

The links catalog (reftrail.links) and QR codes from a terminal, as the console
makes them: create builds an ig.me / m.me link by Meta's rules and adds it (a
ref is generated from campaign, channel and variant when --ref is not given);
list prints the catalog, newest first; qr writes a link's QR code as PNG, or as
SVG when FILE ends in .svg (default REF.png).`

// QR code PNG sizes, in pixels, as the console's API takes them.
const (
	minQRSize     = 64
	maxQRSize     = 4096
	defaultQRSize = 512
)

func runLinks(ctx context.Context, args []string, env environment) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "list" && args[0] != "qr") {
		fmt.Fprintf(env.stderr, "usage: reftrailctl %s\n", linksUsage)
		return fmt.Errorf("links what? create, list or qr")
	}
	switch args[0] {
	case "create":
		return linksCreate(ctx, args[1:], env)
	case "list":
		return linksList(ctx, args[1:], env)
	}
	return linksQR(ctx, args[1:], env)
}

// openCatalog opens the Store that holds the catalog.
func openCatalog(ctx context.Context, env environment) (*chstore.Store, error) {
	cfg, err := configFromEnv(env.getenv)
	if err != nil {
		return nil, err
	}
	return chstore.Open(ctx, cfg.ClickHouse)
}

func linksCreate(ctx context.Context, args []string, env environment) error {
	fs := newFlags("links create", linksUsage, env)
	var in links.Input
	platform := fs.String("platform", "", "instagram or messenger (any case)")
	kind := fs.String("kind", "thread", "thread (a conversation) or optin (m.me/rn marketing messages opt-in, Messenger)")
	fs.StringVar(&in.Handle, "handle", "", "Instagram username, or the Page's username or id")
	fs.StringVar(&in.Ref, "ref", "", "the ref; generated from campaign, channel and variant when empty")
	fs.StringVar(&in.Text, "text", "", "Messenger thread links: text prefilled in the composer")
	fs.StringVar(&in.Topic, "topic", "", "optin: the opt-in topic")
	fs.StringVar(&in.Cadence, "cadence", "", "optin: daily (default), weekly or monthly")
	fs.StringVar(&in.Campaign, "campaign", "", "catalog label")
	fs.StringVar(&in.Channel, "channel", "", "catalog label: where the link is shown (poster, bio, ...)")
	fs.StringVar(&in.Medium, "medium", "", "catalog label")
	fs.StringVar(&in.Variant, "variant", "", "catalog label: A/B variant")
	fs.StringVar(&in.Note, "note", "", "free text")
	fs.StringVar(&in.AccountID, "account", "", "the Page or Instagram account id (digits), optional")
	if ok, err := parseFlags(fs, args); !ok {
		return err
	}
	if err := unexpected(fs); err != nil {
		return err
	}
	p, err := links.ParsePlatform(*platform)
	if err != nil {
		return fmt.Errorf("--platform: %w", err)
	}
	in.Platform, in.Kind = p, links.Kind(*kind)
	store, err := openCatalog(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	l, created, err := links.Create(ctx, store, in, time.Now())
	var fe *links.FieldError
	switch {
	case errors.As(err, &fe):
		return fmt.Errorf("--%s: %s", flagOf(fe.Field), fe.Rule)
	case errors.Is(err, links.ErrConflict):
		return fmt.Errorf("ref %q already names another link (%s); choose another --ref", l.Ref, l.URL)
	case err != nil:
		return err
	}
	verb := "created"
	if !created {
		verb = "already in the catalog, unchanged"
	}
	fmt.Fprintf(env.stdout, "%s: %s\n  %s\n", verb, l.Ref, l.URL)
	spec, err := links.Parse(l.URL)
	if err == nil {
		for _, p := range links.Prerequisites(spec) {
			fmt.Fprintf(env.stdout, "  - %s\n", p)
		}
	}
	return nil
}

// flagOf names the flag of a links.FieldError's field.
func flagOf(field string) string {
	if field == "account_id" {
		return "account"
	}
	return field
}

func linksList(ctx context.Context, args []string, env environment) error {
	fs := newFlags("links list", linksUsage, env)
	var f chstore.LinkFilter
	fs.StringVar(&f.Campaign, "campaign", "", "only this campaign's links")
	fs.BoolVar(&f.Archived, "archived", false, "include archived links")
	fs.IntVar(&f.Limit, "limit", 100, fmt.Sprintf("at most this many, newest first (up to %d)", chstore.MaxLinksPage))
	fs.IntVar(&f.Offset, "offset", 0, "skip this many first")
	if ok, err := parseFlags(fs, args); !ok {
		return err
	}
	if err := unexpected(fs); err != nil {
		return err
	}
	if f.Limit < 1 || f.Limit > chstore.MaxLinksPage || f.Offset < 0 {
		return fmt.Errorf("--limit must be 1 to %d and --offset not negative", chstore.MaxLinksPage)
	}
	store, err := openCatalog(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	ls, err := store.Links(ctx, f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ref\tplatform\tkind\tcampaign\tchannel\tvariant\tcreated_at\turl")
	for _, l := range ls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Ref, l.Platform, l.Kind, dash(l.Campaign), dash(l.Channel), dash(l.Variant), l.CreatedAt.UTC().Format(time.RFC3339), l.URL)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func linksQR(ctx context.Context, args []string, env environment) error {
	fs := newFlags("links qr", linksUsage, env)
	out := fs.String("out", "", "file to write: .png or .svg (default REF.png)")
	size := fs.Int("size", defaultQRSize, fmt.Sprintf("PNG width and height in pixels, %d to %d", minQRSize, maxQRSize))
	level := fs.String("level", "M", "error correction: M, Q or H")
	if ok, err := parseFlags(fs, args); !ok {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("links qr takes one REF (flags first)")
	}
	ref := fs.Arg(0)
	if *size < minQRSize || *size > maxQRSize {
		return fmt.Errorf("--size must be %d to %d", minQRSize, maxQRSize)
	}
	lvl := links.QRLevel(strings.ToUpper(*level))
	if lvl != links.QRLevelM && lvl != links.QRLevelQ && lvl != links.QRLevelH {
		return fmt.Errorf("--level must be M, Q or H")
	}
	path := *out
	if path == "" {
		path = ref + ".png"
	}
	svg := strings.HasSuffix(strings.ToLower(path), ".svg")
	if !svg && !strings.HasSuffix(strings.ToLower(path), ".png") {
		return fmt.Errorf("--out %s: want a .png or .svg file", path)
	}
	store, err := openCatalog(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	l, ok, err := store.Link(ctx, ref)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no link with ref %q in the catalog (reftrailctl links list)", ref)
	}
	code, err := links.NewQRCode(l.URL, links.QROptions{Level: lvl})
	if err != nil {
		return fmt.Errorf("--level %s: %w", lvl, err)
	}
	var b []byte
	if svg {
		b = code.SVG()
	} else if b, err = code.PNG(*size); err != nil {
		return fmt.Errorf("--size: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing the QR code: %w", err)
	}
	what := fmt.Sprintf("%d×%d px PNG", *size, *size)
	if svg {
		what = fmt.Sprintf("SVG of %d modules", code.Modules())
	}
	fmt.Fprintf(env.stdout, "wrote %s (%s, level %s) of %s\n", path, what, lvl, l.URL)
	return nil
}
