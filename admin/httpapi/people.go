package httpapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
)

// peopleFilter reads the people query parameters.
func peopleFilter(c *gin.Context) (admin.PersonFilter, error) {
	f := admin.PersonFilter{Search: c.Query("q"), Department: c.Query("department")}
	var ve admin.ValidationError
	if s := c.Query("active"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			ve.Fields = map[string]string{"active": "must be true or false"}
			return f, &ve
		}
		f.Active = &b
	}
	var err error
	if f.Limit, err = intQuery(c, "limit", 100, 1000); err != nil {
		return f, err
	}
	if f.Offset, err = intQuery(c, "offset", 0, 1<<31-1); err != nil {
		return f, err
	}
	return f, nil
}

// intQuery reads a non-negative integer query parameter at most max.
func intQuery(c *gin.Context, name string, def, max int) (int, error) {
	s := c.Query(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, &admin.ValidationError{Fields: map[string]string{name: fmt.Sprintf("must be an integer from 0 to %d", max)}}
	}
	return n, nil
}

func (a *API) listPeople(c *gin.Context) {
	f, err := peopleFilter(c)
	if err != nil {
		fail(c, err)
		return
	}
	ps, err := a.store.ListPeople(c.Request.Context(), f)
	if err != nil {
		fail(c, err)
		return
	}
	n, err := a.store.CountPeople(c.Request.Context(), f)
	if err != nil {
		fail(c, err)
		return
	}
	if ps == nil {
		ps = []admin.Person{}
	}
	c.JSON(http.StatusOK, listPeople{People: ps, Total: n})
}

func (a *API) personCards(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if _, err := a.store.GetPerson(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	list(func(ctx2 ctxT) ([]admin.Card, error) { return a.store.ListCards(ctx2, id) })(c)
}

func (a *API) personGroups(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if _, err := a.store.GetPerson(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	list(func(ctx2 ctxT) ([]admin.Group, error) { return a.store.ListPersonGroups(ctx2, id) })(c)
}

type ctxT = context.Context

// The CSV format of people, for import and export: a header row naming
// the columns (any order; employee_no, name and surname required), comma
// or semicolon separated (Excel in an Italian locale writes semicolons),
// UTF-8 with or without a byte order mark.
var personColumns = []string{"employee_no", "name", "surname", "department", "email", "active"}

// RowError is one problem in an imported CSV: the 1-based line of the
// file and the column's header name.
type RowError struct {
	Row     int    `json:"row"`
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
}

// CSVError is every problem found in an import; nothing was imported.
type CSVError struct{ Rows []RowError }

func (e *CSVError) Error() string {
	return fmt.Sprintf("%d problems in the CSV, first at row %d: %s", len(e.Rows), e.Rows[0].Row, e.Rows[0].Message)
}

// maxRowErrors bounds the list of problems returned.
const maxRowErrors = 1000

// ParsePeopleCSV reads and validates every row of a people CSV. It returns
// the people, or a *CSVError listing every problem with its row and column
// (at most maxRowErrors).
func ParsePeopleCSV(data []byte) ([]admin.Person, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, &CSVError{[]RowError{{Row: 1, Message: "the file is not UTF-8 text (save it as CSV UTF-8)"}}}
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	r := csv.NewReader(bytes.NewReader(data))
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		return nil, &CSVError{[]RowError{{Row: 1, Message: "empty file: a header row is required (" + strings.Join(personColumns, ",") + ")"}}}
	}
	var errs []RowError
	add := func(row int, col, msg string) {
		if len(errs) < maxRowErrors {
			errs = append(errs, RowError{row, col, msg})
		}
	}
	if err != nil {
		return nil, &CSVError{[]RowError{{Row: 1, Message: csvMsg(err)}}}
	}
	idx := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case !contains(personColumns, h):
			add(1, h, fmt.Sprintf("unknown column %q (known: %s)", clip(h), strings.Join(personColumns, ", ")))
		case idx[h] != 0:
			add(1, h, "column appears twice")
		default:
			idx[h] = i + 1 // 0 means absent
		}
	}
	for _, req := range personColumns[:3] {
		if idx[req] == 0 {
			add(1, req, "required column missing")
		}
	}
	if len(errs) > 0 {
		return nil, &CSVError{errs}
	}
	var people []admin.Person
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// FieldPos is only defined for a record read without error.
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			add(line, "", csvMsg(err))
			if errors.As(err, &pe) && pe.Err == csv.ErrFieldCount {
				continue
			}
			break
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rec) != len(header) {
			add(line, "", fmt.Sprintf("%d fields, the header has %d", len(rec), len(header)))
			continue
		}
		get := func(col string) string {
			i := idx[col]
			if i == 0 {
				return ""
			}
			v := strings.TrimSpace(rec[i-1])
			if len(v) > 1 && v[0] == '\'' && strings.ContainsRune("=+-@", rune(v[1])) {
				v = v[1:] // written by csvSafe
			}
			return v
		}
		p := admin.Person{EmployeeNo: get("employee_no"), Name: get("name"), Surname: get("surname"),
			Department: get("department"), Email: get("email"), Active: true}
		if s := get("active"); s != "" {
			switch strings.ToLower(s) {
			case "true", "1", "yes", "si", "sì", "y", "s":
			case "false", "0", "no", "n":
				p.Active = false
			default:
				add(line, "active", fmt.Sprintf("%q: use true or false (sì/no)", clip(s)))
			}
		}
		var ve *admin.ValidationError
		if err := p.Validate(); errors.As(err, &ve) {
			for _, col := range personColumns {
				if m, ok := ve.Fields[col]; ok {
					add(line, col, m)
				}
			}
		} else if err != nil {
			add(line, "", err.Error())
		}
		if prev, dup := seen[p.EmployeeNo]; dup && p.EmployeeNo != "" {
			add(line, "employee_no", fmt.Sprintf("employee number %s already on row %d", clip(p.EmployeeNo), prev))
		}
		seen[p.EmployeeNo] = line
		people = append(people, p)
	}
	if len(errs) > 0 {
		return nil, &CSVError{errs}
	}
	if len(people) == 0 {
		return nil, &CSVError{[]RowError{{Row: 2, Message: "no people in the file, only a header"}}}
	}
	return people, nil
}

func csvMsg(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return "malformed CSV: " + pe.Err.Error()
	}
	return "malformed CSV: " + err.Error()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (a *API) importPeople(c *gin.Context) {
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxCSVBody))
	if err != nil {
		fail(c, err)
		return
	}
	dry, _ := strconv.ParseBool(c.Query("dry_run"))
	people, err := ParsePeopleCSV(data)
	var ce *CSVError
	if errors.As(err, &ce) {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "the CSV has errors: nothing was imported", "rows": ce.Rows})
		return
	}
	res := importResult{DryRun: dry, Rows: len(people)}
	if !dry {
		if res.Created, res.Updated, err = a.store.ImportPeople(c.Request.Context(), actor(c), people); err != nil {
			fail(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, res)
}

func (a *API) exportPeople(c *gin.Context) {
	f, err := peopleFilter(c)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="people.csv"`)
	w := csv.NewWriter(c.Writer)
	w.Write(personColumns)
	f.Offset, f.Limit = 0, 1000
	for {
		ps, err := a.store.ListPeople(c.Request.Context(), f)
		if err != nil {
			// Headers are gone: end the stream; the client sees a
			// truncated file and the log says why.
			a.log.Error("people export", "err", err)
			c.Abort()
			return
		}
		for _, p := range ps {
			w.Write([]string{csvSafe(p.EmployeeNo), csvSafe(p.Name), csvSafe(p.Surname), csvSafe(p.Department), csvSafe(p.Email), strconv.FormatBool(p.Active)})
		}
		w.Flush()
		if len(ps) < f.Limit {
			return
		}
		last := ps[len(ps)-1]
		f.After = &last
	}
}

// csvSafe defuses formula injection: a spreadsheet would run a cell that
// starts with = + - @ as a formula. Such names get a leading apostrophe,
// which the import strips again.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
