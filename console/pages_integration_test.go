package main

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/event"
)

// browser runs a headless Chromium (Debian's chromium) for t, recording what
// a page must never do: log an error, throw, or ask another host for
// anything.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
	foreign  []string
}

func newBrowser(t *testing.T, allowedHost string) *browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Unavailable(t, "chromium not found (Debian package chromium): %v", err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx}
	err = chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				b.problems = append(b.problems, "console."+string(ev.Type))
			}
		case *runtime.EventExceptionThrown:
			b.problems = append(b.problems, "exception: "+ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				b.problems = append(b.problems, string(ev.Entry.Source)+": "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if u, err := url.Parse(ev.Request.URL); err == nil && u.Scheme != "data" && u.Host != allowedHost {
				b.foreign = append(b.foreign, ev.Request.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("watching the network: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("watching the browser log: %v", err)
	}
	return b
}

// check fails t for every problem recorded since the last check but those
// expected (substrings of a problem, each expected exactly once), and forgets
// them.
func (b *browser) check(t *testing.T, expected ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := make([]bool, len(expected))
problems:
	for _, p := range b.problems {
		for i, e := range expected {
			if !seen[i] && strings.Contains(p, e) {
				seen[i] = true
				continue problems
			}
		}
		t.Errorf("the page reported: %s", p)
	}
	for i, e := range expected {
		if !seen[i] {
			t.Errorf("the page did not report %q", e)
		}
	}
	for _, u := range b.foreign {
		t.Errorf("the page asked another host: %s", u)
	}
	b.problems, b.foreign = nil, nil
}

// screenshot keeps a full-page screenshot as a test artefact: in the test's
// temporary directory, and in $REFTRAIL_ARTEFACTS when set.
func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("REFTRAIL_ARTEFACTS"); out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(out, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot: %s", path)
}

// insertReferrals stores, for 2 March 2026, two referrals of the link the
// page test makes (one answered conversation) and one of an uncataloged ref,
// each event twice as at-least-once delivery may.
func insertReferrals(t *testing.T, c *console) {
	t.Helper()
	ctx := context.Background()
	store, err := chstore.Open(ctx, c.chcfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer store.Close()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).UnixMilli()
	ev := func(id string, kind event.Kind, who string, minutes int64, ref string) event.Event {
		e := event.Event{EventID: id, Platform: event.Instagram, Kind: kind, AccountID: "ig-1", ParticipantID: who,
			EventTime: t0 + minutes*60000, ReceivedTime: t0 + minutes*60000, Thread: event.ThreadUnknown}
		if ref != "" {
			e.Thread, e.Referral = event.ThreadExisting, &event.Referral{Ref: ref, Source: "SHORTLINK", Type: "OPEN_THREAD"}
		}
		return e
	}
	evs := []event.Event{
		ev("r1", event.KindReferral, "p1", 0, "spring-2026_qr-poster_a"), ev("m1", event.KindMessage, "p1", 5, ""), ev("e1", event.KindEcho, "p1", 9, ""),
		ev("r2", event.KindReferral, "p2", 30, "spring-2026_qr-poster_a"),
		ev("r3", event.KindReferral, "p3", 60, "flyer"),
	}
	for range 2 {
		if err := store.InsertEvents(ctx, evs, time.Now()); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
	}
}

func TestIntegrationPagesInChromium(t *testing.T) {
	t.Parallel()
	c := startConsole(t, map[string]string{"CONSOLE_TOKEN": testToken})
	u, _ := url.Parse(c.base)
	b := newBrowser(t, u.Host)
	dir := t.TempDir()

	// The links page sends a visitor without the cookie to the login form,
	// and back after it.
	err := chromedp.Do(b.ctx,
		chromedp.Navigate(c.base+"/links"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("handle")),
	)
	if err != nil {
		t.Fatalf("logging in: %v", err)
	}
	if path, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("location.pathname")); err != nil || path != "/links" {
		t.Errorf("after login the browser is at %q (%v), want /links", path, err)
	}

	// Make a link through the form; the page shows it with its QR code.
	err = chromedp.Do(b.ctx,
		chromedp.Click(chromedp.CSS(`input[name="platform"][value="instagram"]`)),
		chromedp.SendKeys(chromedp.ID("handle"), "shop.berlin"),
		chromedp.SendKeys(chromedp.ID("campaign"), "Spring 2026"),
		chromedp.SendKeys(chromedp.ID("channel"), "QR poster"),
		chromedp.SendKeys(chromedp.ID("variant"), "A"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.ID("qr-preview")),
	)
	if err != nil {
		t.Fatalf("making a link through the form: %v", err)
	}
	loaded, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`(() => { const i = document.getElementById("qr-preview"); return i.complete && i.naturalWidth > 0; })()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || !loaded {
		t.Errorf("the QR preview did not load: %v", err)
	}
	shownURL, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("shown-url")))
	if err != nil {
		t.Fatalf("reading the link shown: %v", err)
	}
	if want := "https://ig.me/m/shop.berlin?ref=spring-2026_qr-poster_a"; shownURL != want {
		t.Errorf("the page shows the link %q, want %q", shownURL, want)
	}
	b.screenshot(t, dir, "console-links.png")

	// Copy link puts the link on the clipboard.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: c.base,
		})
		if err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("button[data-copy]"))); err != nil {
		t.Fatalf("clicking Copy link: %v", err)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelector(".copy-status").textContent === "Link copied."`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("Copy link did not say it copied: %v", err)
	}
	clip, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("navigator.clipboard.readText()", chromedp.EvalAwaitPromise))
	if err != nil || clip != shownURL {
		t.Errorf("clipboard holds %q (%v), want the link %q", clip, err, shownURL)
	}
	b.check(t)

	// A bad ref comes back on the form, marked, with the rule.
	err = chromedp.Do(b.ctx,
		chromedp.SendKeys(chromedp.ID("handle"), "shop.berlin"),
		chromedp.SendKeys(chromedp.ID("ref"), "spring sale"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.ID("form-error")),
	)
	if err != nil {
		t.Fatalf("sending a bad ref: %v", err)
	}
	errText, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("form-error")))
	if err != nil {
		t.Fatal(err)
	}
	invalid, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.ID("ref"), "aria-invalid"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(errText, "Ref: character ' '") || invalid.Value != "true" {
		t.Errorf("form error %q, ref aria-invalid %q; want the ref rule and the field marked", errText, invalid.Value)
	}
	// The form comes back with status 400, which Chromium logs.
	b.check(t, "status of 400 (Bad Request) "+c.base+"/links")

	// Referrals of the new link and of a ref the catalog lacks, then the
	// campaigns page: its funnel with rates.
	insertReferrals(t, c)
	err = chromedp.Do(b.ctx,
		chromedp.Navigate(c.base+"/campaigns?from=2026-03-01&to=2026-03-03&by=campaign"),
		chromedp.WaitVisible(chromedp.CSS("table.funnel")),
	)
	if err != nil {
		t.Fatalf("campaigns page: %v", err)
	}
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("table.funnel tbody tr")).map(tr => Array.from(tr.children).slice(0, 6).map(c => c.innerText.replace(/\s+/g, " ").trim()))`))
	if err != nil {
		t.Fatalf("reading the funnel table: %v", err)
	}
	want := [][]string{
		// campaign, opened, people, wrote, got a reply, came back
		{"Spring 2026", "2", "2", "1 (50% of opened)", "1 (100% of those who wrote)", "0 (0% of those answered)"},
		{"(uncataloged)", "1", "1", "0 (0% of opened)", "0 (0% of those who wrote)", "0 (0% of those answered)"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("campaigns table (-want +got):\n%s", diff)
	}
	credit, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("table.credit tbody tr")).map(tr => Array.from(tr.children).map(c => c.innerText.trim()))`))
	if err != nil {
		t.Fatalf("reading the credit table: %v", err)
	}
	// p1's message is the one new conversation, after the spring link.
	if diff := cmp.Diff([][]string{{"Spring 2026", "1", "1"}}, credit); diff != "" {
		t.Errorf("credit table (-want +got):\n%s", diff)
	}
	daily, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("table.daily tr")).map(tr => Array.from(tr.children).map(c => c.innerText.trim()))`))
	if err != nil {
		t.Fatalf("reading the daily table: %v", err)
	}
	wantDaily := [][]string{{"Day (UTC)", "Spring 2026", "(uncataloged)", "All"}, {"Mon 2 Mar 2026", "2", "1", "3"}}
	if diff := cmp.Diff(wantDaily, daily); diff != "" {
		t.Errorf("daily table (-want +got):\n%s", diff)
	}
	b.screenshot(t, dir, "console-campaigns.png")
	err = chromedp.Do(b.ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(c.base+"/links?ref=spring-2026_qr-poster_a"),
		chromedp.WaitVisible(chromedp.ID("qr-preview")),
	)
	if err != nil {
		t.Fatalf("links page on a phone: %v", err)
	}
	b.screenshot(t, dir, "console-links-phone.png")
	b.check(t)
}
