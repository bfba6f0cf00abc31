package panel

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
	"github.com/varco-access/varco/wire"
)

// CSV import in two steps: the upload is parsed and checked against the
// store (preview: row errors, or what would be created and updated) and
// kept in memory on the server for its uploader; the confirmation then
// imports it in one transaction. Nothing is saved before the
// confirmation.

// Bounds of the uploads kept between preview and confirmation.
const (
	importTTL = 30 * time.Minute
	// maxImports bounds the uploads kept at once (the oldest goes).
	maxImports = 16
	// maxPreviewRows bounds the rows listed on the preview page; the
	// counts cover every row.
	maxPreviewRows = 500
)

// importRow is one row of the preview: a person to create or update.
type importRow struct {
	N       int // 1-based position among the people of the file
	Person  admin.Person
	Update  bool
	Changed []string // the fields an update changes (JSON names)
}

// pendingImport is an uploaded CSV waiting for confirmation.
type pendingImport struct {
	ID       string
	UserID   int64
	Session  string // a hash of the uploader's session: a preview is theirs only
	File     string
	At       time.Time
	People   []admin.Person
	Errors   []httpapi.RowError
	Rows     []importRow // created or updated, at most maxPreviewRows
	Create   int
	Update   int
	Same     int
	Done     bool
	Created  int
	Updated  int
	Imported time.Time
}

// importData is the import page's.
type importData struct {
	MaxMB   int64 // the largest file, MiB
	Expired bool
	P       *pendingImport
	More    int // rows not listed
}

// sessionTag names pr's session without keeping its secret id.
func sessionTag(pr auth.Principal) string {
	h := sha256.Sum256([]byte("varco panel import\x00" + pr.SessionID))
	return hex.EncodeToString(h[:])
}

// importFor returns the pending upload id of the request's user.
func (p *Panel) importFor(c *gin.Context, id string) *pendingImport {
	pr, _ := auth.PrincipalFrom(c)
	s := p.hr()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := p.o.Now()
	for k, pi := range s.imports {
		if now.Sub(pi.At) > importTTL {
			delete(s.imports, k)
		}
	}
	pi, ok := s.imports[id]
	if !ok || pi.UserID != pr.UserID || pi.Session != sessionTag(pr) {
		return nil
	}
	return pi
}

func (p *Panel) importPage(c *gin.Context) {
	d := importData{MaxMB: httpapi.MaxCSVBody >> 20}
	if id := c.Query("preview"); id != "" {
		d.P = p.importFor(c, id)
		d.Expired = d.P == nil
	}
	if d.P != nil {
		d.More = d.P.Create + d.P.Update - len(d.P.Rows)
	}
	p.show(c, "hr_import", "import.title", d)
}

// importUpload parses the uploaded file, keeps it and shows its preview
// (a redirect; a script uploading with XMLHttpRequest asks for JSON and
// gets {"redirect": url}).
func (p *Panel) importUpload(c *gin.Context) {
	pg := p.page(c, "import.title", importData{MaxMB: httpapi.MaxCSVBody >> 20})
	if c.Request.MultipartForm == nil {
		// Not parsed yet (the script sends the CSRF token as a header):
		// bound the upload before reading it.
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, httpapi.MaxCSVBody+1<<20)
	}
	fh, err := c.FormFile("file")
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		pg.Errors = map[string]string{"file": pg.T("import.toobig", httpapi.MaxCSVBody>>20)}
		p.render(c, http.StatusRequestEntityTooLarge, "hr_import", pg)
		return
	}
	if err != nil {
		pg.Errors = map[string]string{"file": pg.T("import.nofile")}
		p.render(c, http.StatusBadRequest, "hr_import", pg)
		return
	}
	if fh.Size > httpapi.MaxCSVBody {
		pg.Errors = map[string]string{"file": pg.T("import.toobig", httpapi.MaxCSVBody>>20)}
		p.render(c, http.StatusRequestEntityTooLarge, "hr_import", pg)
		return
	}
	f, err := fh.Open()
	if err != nil {
		p.fail(c, err)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, httpapi.MaxCSVBody+1))
	f.Close()
	if err != nil {
		p.fail(c, err)
		return
	}
	if len(data) > httpapi.MaxCSVBody {
		pg.Errors = map[string]string{"file": pg.T("import.toobig", httpapi.MaxCSVBody>>20)}
		p.render(c, http.StatusRequestEntityTooLarge, "hr_import", pg)
		return
	}
	pr, _ := auth.PrincipalFrom(c)
	pi := &pendingImport{ID: wire.NewID(), UserID: pr.UserID, Session: sessionTag(pr), File: fh.Filename, At: p.o.Now()}
	people, err := httpapi.ParsePeopleCSV(data)
	var ce *httpapi.CSVError
	switch {
	case errors.As(err, &ce):
		pi.Errors = ce.Rows
	case err != nil:
		p.fail(c, err)
		return
	default:
		pi.People = people
		if err := p.planImport(c, pi); err != nil {
			p.fail(c, err)
			return
		}
	}
	s := p.hr()
	s.mu.Lock()
	for len(s.imports) >= maxImports {
		var oldest *pendingImport
		for _, o := range s.imports {
			if oldest == nil || o.At.Before(oldest.At) {
				oldest = o
			}
		}
		delete(s.imports, oldest.ID)
	}
	s.imports[pi.ID] = pi
	s.mu.Unlock()
	next := "/people/import?preview=" + pi.ID
	if strings.Contains(c.GetHeader("Accept"), "application/json") {
		c.JSON(http.StatusOK, gin.H{"redirect": next})
		return
	}
	c.Redirect(http.StatusSeeOther, next)
}

// planImport says what importing pi would do to each person: create,
// update (which fields) or nothing.
func (p *Panel) planImport(c *gin.Context, pi *pendingImport) error {
	ctx := c.Request.Context()
	for i, per := range pi.People {
		old, err := p.o.Store.GetPersonByEmployeeNo(ctx, per.EmployeeNo)
		row := importRow{N: i + 1, Person: per}
		switch {
		case errors.Is(err, admin.ErrNotFound):
			pi.Create++
		case err != nil:
			return err
		default:
			for _, f := range []struct {
				name     string
				was, now string
			}{
				{"name", old.Name, per.Name}, {"surname", old.Surname, per.Surname},
				{"department", old.Department, per.Department}, {"email", old.Email, per.Email},
			} {
				if f.was != f.now {
					row.Changed = append(row.Changed, f.name)
				}
			}
			if old.Active != per.Active {
				row.Changed = append(row.Changed, "active")
			}
			if len(row.Changed) == 0 {
				pi.Same++
				continue
			}
			row.Update = true
			pi.Update++
		}
		if len(pi.Rows) < maxPreviewRows {
			pi.Rows = append(pi.Rows, row)
		}
	}
	return nil
}

// importConfirm imports a previewed file: all or nothing.
func (p *Panel) importConfirm(c *gin.Context) {
	id := c.PostForm("id")
	pi := p.importFor(c, id)
	if pi == nil {
		c.Redirect(http.StatusSeeOther, "/people/import?preview="+id)
		return
	}
	s := p.hr()
	s.mu.Lock()
	if pi.Done || len(pi.Errors) > 0 || len(pi.People) == 0 {
		s.mu.Unlock()
		pg := p.page(c, "import.title", importData{MaxMB: httpapi.MaxCSVBody >> 20, P: pi})
		pg.Errors = map[string]string{"": pg.T("import.notagain")}
		p.render(c, http.StatusConflict, "hr_import", pg)
		return
	}
	pi.Done = true // one confirmation at a time
	people := slices.Clone(pi.People)
	s.mu.Unlock()
	created, updated, err := p.o.Store.ImportPeople(c.Request.Context(), actor(c), people)
	s.mu.Lock()
	if err != nil {
		pi.Done = false
	} else {
		pi.Created, pi.Updated, pi.Imported = created, updated, p.o.Now()
	}
	s.mu.Unlock()
	if err != nil {
		pg := p.page(c, "import.title", importData{MaxMB: httpapi.MaxCSVBody >> 20, P: pi, More: pi.Create + pi.Update - len(pi.Rows)})
		var ve *admin.ValidationError
		if errors.As(err, &ve) || errors.Is(err, admin.ErrConflict) {
			// The store changed since the preview (or a row clashes).
			pg.Errors = map[string]string{"": pg.T("import.failed") + " " + err.Error()}
		} else {
			pg.Errors = p.formErrors(c, err)
		}
		p.render(c, http.StatusUnprocessableEntity, "hr_import", pg)
		return
	}
	redirectDone(c, "/people/import?preview="+pi.ID, "done.person.imported")
}
