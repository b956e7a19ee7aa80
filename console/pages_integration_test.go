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

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/reftrail/reftrail/internal/dev/testenv"
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

	// The campaigns page, and the links page on a phone-sized screen.
	err = chromedp.Do(b.ctx,
		chromedp.Navigate(c.base+"/campaigns"),
		chromedp.WaitVisible(chromedp.ID("funnel-title")),
	)
	if err != nil {
		t.Fatalf("campaigns page: %v", err)
	}
	if heading, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("h1"))); err != nil || heading != "Campaigns" {
		t.Errorf("campaigns page heading %q (%v)", heading, err)
	}
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
