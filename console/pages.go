package main

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/links"
)

//go:embed web/templates/*.html
var templateFS embed.FS

//go:embed web/assets
var assetFS embed.FS

// navItem is one entry of the pages' shared navigation. A new page adds its
// route in routes.go and its entry here.
type navItem struct{ Path, Label string }

var nav = []navItem{
	{"/overview", "Overview"},
	{"/campaigns", "Campaigns"},
	{"/links", "Links"},
	{"/participants", "People"},
	{"/windows", "Open windows"},
	{"/dead-letters", "Dead letters"},
}

// pages are the parsed page templates, each base.html plus its own file, and
// the version of the embedded assets that goes into their URLs.
type pages struct {
	byName       map[string]*template.Template
	assetVersion string
}

func parsePages() (pages, error) {
	version, err := assetsVersion()
	if err != nil {
		return pages{}, err
	}
	p := pages{byName: map[string]*template.Template{}, assetVersion: version}
	funcs := template.FuncMap{
		"asset":   func(name string) string { return "/assets/" + version + "/" + name },
		"percent": percent,
		"when":    func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
		"day":     func(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006") },
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"list":    func(v ...string) []string { return v },
	}
	for _, name := range []string{"overview", "campaigns", "links", "participant", "windows", "dead-letters", "login"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "web/templates/base.html", "web/templates/period.html", "web/templates/"+name+".html")
		if err != nil {
			return pages{}, fmt.Errorf("parsing page %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// assetsVersion is a digest of every embedded asset: asset URLs change when
// an asset does, so browsers may cache them for good.
func assetsVersion() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(assetFS, "web/assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("reading the console's assets: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// asset serves GET /assets/{version}/{file}: only the current version, cached
// for a year.
func (s *server) asset(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("version") != s.pages.assetVersion {
		http.NotFound(w, r)
		return
	}
	b, err := assetFS.ReadFile("web/assets/" + r.PathValue("file"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	w.Header().Set("Content-Type", types[path.Ext(r.PathValue("file"))])
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(b)
}

// pageData is what every page template gets; Page holds the page's own.
type pageData struct {
	Title    string
	Path     string
	Nav      []navItem
	LoggedIn bool // a token is set and the visitor is logged in
	Page     any
}

// render writes the page name with status; a template error is a 500.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	var b bytes.Buffer
	err := s.pages.byName[name].ExecuteTemplate(&b, "base", pageData{
		Title: title, Path: r.URL.Path, Nav: nav, LoggedIn: s.cfg.Token != "" && s.authorized(r), Page: data,
	})
	if err != nil {
		s.logger.Error("rendering page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// linksPageData is the links page: the form (with what was typed and what
// was wrong), the link just made, and one page of the catalog.
type linksPageData struct {
	Form       linkInput
	FieldError string // the field at fault, for aria-invalid
	Error      string
	Shown      *linkJSON // the link just created, or chosen with ?ref=
	Created    bool
	Links      []linkJSON
	PageNum    int
	NextPage   int    // 0 when this is the last page
	PrevPage   int    // 0 on the first page
	Campaign   string // the campaign the list is limited to (?campaign=), from the campaigns page
}

const linksPerPage = 25

func (s *server) linksPage(w http.ResponseWriter, r *http.Request) {
	data := linksPageData{Form: linkInput{Platform: "instagram", Kind: "thread", Cadence: "daily"}}
	if ref := r.URL.Query().Get("ref"); ref != "" {
		l, ok, err := s.store.Link(r.Context(), ref)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		if ok {
			j := toJSON(l)
			data.Shown, data.Created = &j, r.URL.Query().Get("created") == "1"
		}
	}
	s.renderLinks(w, r, http.StatusOK, data)
}

func (s *server) renderLinks(w http.ResponseWriter, r *http.Request, status int, data linksPageData) {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 || page > 1<<20 {
		page = 1
	}
	data.Campaign = r.URL.Query().Get("campaign")
	ls, err := s.store.Links(r.Context(), chstore.LinkFilter{Campaign: data.Campaign, Limit: linksPerPage + 1, Offset: (page - 1) * linksPerPage})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	data.PageNum = page
	if page > 1 {
		data.PrevPage = page - 1
	}
	for i, l := range ls {
		if i == linksPerPage {
			data.NextPage = page + 1
			break
		}
		data.Links = append(data.Links, toJSON(l))
	}
	s.render(w, r, status, "links", "Links and QR codes", data)
}

// createLinkForm is POST /links: the form's fields as the API's, then back to
// the page showing the new link (303), or the form again with the problem.
func (s *server) createLinkForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	in := linkInput{
		Platform: f.Get("platform"), Handle: f.Get("handle"), Ref: f.Get("ref"), Campaign: f.Get("campaign"),
		Channel: f.Get("channel"), Medium: f.Get("medium"), Variant: f.Get("variant"), Note: f.Get("note"),
		Kind: f.Get("kind"), Topic: f.Get("topic"), Cadence: f.Get("cadence"), Text: f.Get("text"),
	}
	if in.Kind != string(links.KindOptin) {
		// The opt-in fields stay on the form for thread links; ignore them.
		in.Topic, in.Cadence = "", ""
	}
	l, created, err := s.createLink(r.Context(), in)
	var fe *links.FieldError
	switch {
	case err == nil:
		q := url.Values{"ref": {l.Ref}}
		if created {
			q.Set("created", "1")
		}
		http.Redirect(w, r, "/links?"+q.Encode(), http.StatusSeeOther)
	case errors.As(err, &fe):
		s.renderLinks(w, r, http.StatusBadRequest, linksPageData{Form: in, FieldError: fe.Field, Error: formMessage(fe)})
	case errors.Is(err, links.ErrConflict):
		s.renderLinks(w, r, http.StatusConflict, linksPageData{Form: in, FieldError: "ref",
			Error: "This ref is already used by another link. Choose another ref, or leave it empty to have one made."})
	default:
		s.pageError(w, r, err)
	}
}

// formLabels name the form's fields as the page does.
var formLabels = map[string]string{
	"platform": "Platform", "handle": "Account", "ref": "Ref", "campaign": "Campaign", "channel": "Channel",
	"medium": "Medium", "variant": "Variant", "note": "Note", "kind": "Link type", "topic": "Topic",
	"cadence": "How often", "text": "Prefilled message", "account_id": "Account id",
}

func formMessage(fe *links.FieldError) string {
	label := formLabels[fe.Field]
	if label == "" {
		label = fe.Field
	}
	return label + ": " + fe.Rule
}

func (s *server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	s.logger.Error("page failed", "method", r.Method, "route", r.Pattern, "err", err)
	http.Error(w, "Something went wrong on our side; the console's log says more.", http.StatusInternalServerError)
}

// campaignsPageData is the campaigns page: the period and grouping asked
// for, the funnel rows, and their charts.
type campaignsPageData struct {
	Period      period
	By          string
	Rows        []chstore.FunnelRow
	Max         uint64 // the most referrals of a row, for the bars
	FunnelChart template.HTML
	Credit      []chstore.AttributionRow
	CreditChart template.HTML
	Daily       dailyTable
	DailyChart  template.HTML
}

// dailyTable is referrals per day as a table: a row per day that had
// referrals, a column per group in the funnel's order.
type dailyTable struct {
	Names []string
	Days  []dailyRow
}

type dailyRow struct {
	Day    time.Time
	Counts []uint64
	Total  uint64
}

// newDailyTable lays rows (ordered by day) out in the columns names.
func newDailyTable(names []string, rows []chstore.DailyRow) dailyTable {
	col := map[string]int{}
	for i, n := range names {
		col[n] = i
	}
	t := dailyTable{Names: names}
	for _, r := range rows {
		if len(t.Days) == 0 || !t.Days[len(t.Days)-1].Day.Equal(r.Day) {
			t.Days = append(t.Days, dailyRow{Day: r.Day, Counts: make([]uint64, len(names))})
		}
		d := &t.Days[len(t.Days)-1]
		if i, ok := col[r.Name]; ok {
			d.Counts[i] += r.Referrals
		}
		d.Total += r.Referrals
	}
	return t
}

// campaignsPage is GET /campaigns?period=&from=&to=&tz=&by=: the funnel of
// the referrals of those days in the viewer's time zone (readPeriod).
func (s *server) campaignsPage(w http.ResponseWriter, r *http.Request) {
	p := readPeriod(r, time.Now(), "30d")
	data := campaignsPageData{Period: p, By: "campaign"}
	if v := r.URL.Query().Get("by"); v == "channel" || v == "ref" {
		data.By = v
	}
	ctx := r.Context()
	rows, err := s.store.Funnel(ctx, p.Start, p.End, data.By)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	data.Rows = rows
	for _, row := range rows {
		data.Max = max(data.Max, row.Referrals)
	}
	if data.Credit, err = s.store.Attribution(ctx, p.Start, p.End, data.By); err != nil {
		s.pageError(w, r, err)
		return
	}
	daily, err := s.store.ReferralsDaily(ctx, p.Start, p.End, data.By)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	// The funnel and the daily counts cover the same referrals, so the
	// funnel's rows name every group, most referrals first.
	names := make([]string, len(rows))
	for i, row := range rows {
		names[i] = row.Name
	}
	data.Daily = newDailyTable(names, daily)
	if len(rows) > 0 {
		data.FunnelChart = funnelChart(data.By, rows)
		data.DailyChart = stackedDailyChart(data.Daily)
	}
	if len(data.Credit) > 0 {
		data.CreditChart = creditChart(data.Credit)
	}
	status := http.StatusOK
	if p.Error != "" {
		status = http.StatusBadRequest
	}
	s.render(w, r, status, "campaigns", "Campaigns", data)
}

// loginPage is GET /login: the token form, or straight on when no token is
// needed or the visitor is logged in.
func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.authorized(r) {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", "Sign in", struct{ Next, Error string }{r.URL.Query().Get("next"), ""})
}

// login is POST /login: a right token sets the session cookie.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	if s.cfg.Token != "" && !s.isToken(r.PostForm.Get("token")) {
		s.render(w, r, http.StatusUnauthorized, "login", "Sign in", struct{ Next, Error string }{next, "That access token is not right."})
		return
	}
	if s.cfg.Token != "" {
		http.SetCookie(w, &http.Cookie{
			Name: sessionCookie, Value: s.session, Path: "/", MaxAge: int(sessionMaxAge.Seconds()),
			Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		})
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout is POST /logout: the cookie is cleared.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a post-login redirect on this site: a path, never a URL.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/overview"
	}
	return next
}
