package httpapi_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
)

var update = flag.Bool("update", false, "rewrite testdata/openapi.json")

// TestOpenAPIGolden keeps testdata/openapi.json equal to the document the
// route table generates, so that every API change shows in review.
func TestOpenAPIGolden(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		got := e.api.OpenAPI()
		path := filepath.Join("testdata", "openapi.json")
		if *update {
			os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (create it with go test ./admin/httpapi -run OpenAPIGolden -args -update)", err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is out of date: run go test ./admin/httpapi -run OpenAPIGolden -args -update and review the diff", path)
		}
		var doc map[string]any
		if err := json.Unmarshal(got, &doc); err != nil {
			t.Fatal(err)
		}
	})
}

func csvReq(body, query string) req {
	return req{method: "POST", path: "/people/import" + query, raw: []byte(body), ctype: "text/csv"}
}

func TestImportPeopleCSV(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		good := "employee_no,name,surname,department,email,active\n" +
			"1,Anna,Bianchi,HR,anna@example.it,true\n" +
			"2,Bruno,Verdi,IT,,sì\n" +
			"3,Carla,Neri,,,no\n"
		// Dry run: validated, nothing stored.
		var res struct {
			DryRun           bool `json:"dry_run"`
			Rows             int  `json:"rows"`
			Created, Updated int
		}
		e.must(200, csvReq(good, "?dry_run=true")).json(t, &res)
		if !res.DryRun || res.Rows != 3 {
			t.Errorf("dry run: %+v", res)
		}
		if n, _ := e.st.CountPeople(t.Context(), admin.PersonFilter{}); n != 0 {
			t.Fatalf("dry run stored %d people", n)
		}
		e.must(200, csvReq(good, "")).json(t, &res)
		if res.Created != 3 || res.Updated != 0 {
			t.Errorf("first import: %+v", res)
		}
		// Idempotent: the same file again changes nothing.
		e.must(200, csvReq(good, "")).json(t, &res)
		if res.Created != 0 || res.Updated != 0 {
			t.Errorf("second import: %+v", res)
		}
		// Semicolons, a BOM, columns in another order: Excel in Italy.
		e.must(200, csvReq("\xef\xbb\xbfsurname;name;employee_no\nRossi;Anna;1\n", "")).json(t, &res)
		if res.Updated != 1 {
			t.Errorf("semicolon import: %+v", res)
		}
		p, err := e.st.GetPersonByEmployeeNo(t.Context(), "1")
		if err != nil || p.Surname != "Rossi" {
			t.Errorf("after update: %+v %v", p, err)
		}

		// Every error of every row is reported; nothing is imported.
		bad := "employee_no,name,surname,email,active\n" +
			"10,Dario,Gialli,dario@example.it,true\n" +
			"11,,Blu,not-an-email,maybe\n" +
			"10,Elena,Rosa,,\n" +
			"12,Fabio\n"
		r := e.as(auth.RoleHR, csvReq(bad, ""))
		if r.code != 400 {
			t.Fatalf("bad CSV: %d %s", r.code, r.body)
		}
		var er struct {
			Error string             `json:"error"`
			Rows  []httpapi.RowError `json:"rows"`
		}
		r.json(t, &er)
		want := map[string]bool{"3/name": true, "3/email": true, "3/active": true, "4/employee_no": true, "5/": true}
		for _, re := range er.Rows {
			k := strings.Join([]string{itoa(re.Row), re.Column}, "/")
			if !want[k] {
				t.Errorf("unexpected row error %+v", re)
			}
			delete(want, k)
		}
		if len(want) > 0 {
			t.Errorf("row errors missing: %v (got %+v)", want, er.Rows)
		}
		if _, err := e.st.GetPersonByEmployeeNo(t.Context(), "10"); err == nil {
			t.Error("a row of a refused file was imported")
		}
		for name, body := range map[string]string{
			"empty":          "",
			"header only":    "employee_no,name,surname\n",
			"unknown column": "employee_no,name,surname,salary\n1,a,b,3\n",
			"missing column": "employee_no,name\n1,a\n",
			"not utf-8":      "employee_no,name,surname\n1,\xff,b\n",
			"bad quotes":     "employee_no,name,surname\n1,\"a,b\n",
		} {
			if r := e.as(auth.RoleHR, csvReq(body, "")); r.code != 400 || !strings.Contains(string(r.body), `"rows"`) {
				t.Errorf("%s: %d %s", name, r.code, r.body)
			}
		}

		// Export writes the import format back; formulas are defused and come
		// back unchanged through an import.
		e.must(200, csvReq("employee_no,name,surname\n=1+1,@Anna,-Bianchi\n", ""))
		r = e.as(auth.RoleFacilities, req{method: "GET", path: "/people/export"})
		if r.code != 200 || !strings.Contains(string(r.body), "'=1+1,'@Anna,'-Bianchi,") {
			t.Fatalf("export: %d %s", r.code, r.body)
		}
		e.must(200, csvReq(string(r.body), "")).json(t, &res)
		if res.Created != 0 || res.Updated != 0 {
			t.Errorf("re-importing the export changed something: %+v", res)
		}
	})
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func FuzzParsePeopleCSV(f *testing.F) {
	for _, s := range []string{
		"employee_no,name,surname\n1,a,b\n",
		"\xef\xbb\xbfsurname;name;employee_no;active\nR;A;1;sì\n",
		"employee_no,name,surname,email\n1,\"a\"\"b\",c,x@y.it\n",
		"employee_no,name\n1\n", "", "\n\n", "a,a,a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := httpapi.ParsePeopleCSV(b)
		if err != nil {
			if ps != nil {
				t.Fatal("people returned with an error")
			}
			return
		}
		for _, p := range ps {
			if err := p.Validate(); err != nil {
				t.Fatalf("accepted an invalid person: %v", err)
			}
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add("MTc3MjQzODQwMDAwMDAwMDAwMC40Mg")
	f.Add("")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := httpapi.DecodeCursor(s)
		if err != nil {
			return
		}
		if back, err := httpapi.DecodeCursor(httpapi.EncodeCursor(c)); err != nil || !back.Time.Equal(c.Time) || back.ID != c.ID {
			t.Fatalf("cursor %q does not round-trip: %+v %+v %v", s, c, back, err)
		}
	})
}
