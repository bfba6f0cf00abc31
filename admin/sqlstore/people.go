package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/varco-access/varco/admin"
)

const personCols = `id, employee_no, name, surname, department, email, active, created_at, updated_at`

func scanPerson(r scanner, p *admin.Person) error {
	return r.Scan(&p.ID, &p.EmployeeNo, &p.Name, &p.Surname, &p.Department, &p.Email, &p.Active, tcol{&p.CreatedAt}, tcol{&p.UpdatedAt})
}

// searchText is what ListPeople's Search matches against: the fields a
// person is looked up by, lowercased (in Go, so both backends fold case
// alike), one per line so a word does not match across two fields.
func searchText(p *admin.Person) string {
	return strings.ToLower(p.EmployeeNo + "\n" + p.Name + "\n" + p.Surname + "\n" + p.Email)
}

// samePerson reports whether two people have the same editable fields.
func samePerson(a, b *admin.Person) bool {
	return a.EmployeeNo == b.EmployeeNo && a.Name == b.Name && a.Surname == b.Surname &&
		a.Department == b.Department && a.Email == b.Email && a.Active == b.Active
}

// grantChange reports whether an edit from a to b changes the person's
// grants (their display name, or whether they get any).
func grantChange(a, b *admin.Person) bool {
	return a.Name != b.Name || a.Surname != b.Surname || a.Active != b.Active
}

// CreatePerson implements admin.Store.
func (db *DB) CreatePerson(ctx context.Context, a admin.Actor, p *admin.Person) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error { return t.createPerson(p) })
}

func (t *tx) createPerson(p *admin.Person) error {
	p.CreatedAt, p.UpdatedAt = t.now, t.now
	id, err := t.insert(nil, `INSERT INTO people (employee_no, name, surname, department, email, active, search, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.EmployeeNo, p.Name, p.Surname, p.Department, p.Email, p.Active, searchText(p), t.db.t(t.now), t.db.t(t.now))
	if err != nil {
		return fmt.Errorf("sqlstore: create person %q: %w", p.EmployeeNo, err)
	}
	p.ID = id
	// A new person is in no group yet: no door view changes.
	return t.audit(admin.ActionCreate, "person", id, nil, p)
}

// GetPerson implements admin.Store.
func (db *DB) GetPerson(ctx context.Context, id int64) (admin.Person, error) {
	return db.getPerson(ctx, db.r, `id = ?`, id)
}

// GetPersonByEmployeeNo implements admin.Store.
func (db *DB) GetPersonByEmployeeNo(ctx context.Context, employeeNo string) (admin.Person, error) {
	return db.getPerson(ctx, db.r, `employee_no = ?`, employeeNo)
}

func (db *DB) getPerson(ctx context.Context, q queryer, where string, arg any) (admin.Person, error) {
	var p admin.Person
	if err := scanPerson(q.QueryRowContext(ctx, db.q(`SELECT `+personCols+` FROM people WHERE `+where), arg), &p); err != nil {
		return p, fmt.Errorf("sqlstore: person %v: %w", arg, mapErr(err, nil))
	}
	return p, nil
}

// personWhere builds the WHERE clause of a PersonFilter, without paging.
func personWhere(f admin.PersonFilter) (string, []any) {
	var conds []string
	var args []any
	for _, w := range strings.Fields(strings.ToLower(f.Search)) {
		conds = append(conds, `search LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscape(w)+"%")
	}
	if f.Active != nil {
		conds = append(conds, `active = ?`)
		args = append(args, *f.Active)
	}
	if f.Department != "" {
		conds = append(conds, `department = ?`)
		args = append(args, f.Department)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func limit(n, def, max int) int {
	if n <= 0 {
		return def
	}
	if n > max {
		return max
	}
	return n
}

// ListPeople implements admin.Store.
func (db *DB) ListPeople(ctx context.Context, f admin.PersonFilter) ([]admin.Person, error) {
	where, args := personWhere(f)
	if f.After != nil {
		if where == "" {
			where = " WHERE "
		} else {
			where += " AND "
		}
		where += `(surname, name, id) > (?, ?, ?)`
		args = append(args, f.After.Surname, f.After.Name, f.After.ID)
	}
	q := `SELECT ` + personCols + ` FROM people` + where + ` ORDER BY surname, name, id LIMIT ?`
	args = append(args, limit(f.Limit, 100, 10000))
	if f.Offset > 0 {
		q += ` OFFSET ?`
		args = append(args, f.Offset)
	}
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list people: %w", err)
	}
	return collect(rows, scanPerson)
}

// CountPeople implements admin.Store.
func (db *DB) CountPeople(ctx context.Context, f admin.PersonFilter) (int, error) {
	where, args := personWhere(f)
	var n int
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT count(*) FROM people`+where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count people: %w", err)
	}
	return n, nil
}

// UpdatePerson implements admin.Store.
func (db *DB) UpdatePerson(ctx context.Context, a admin.Actor, p *admin.Person) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getPerson(ctx, t.tx, `id = ?`, p.ID)
		if err != nil {
			return err
		}
		_, err = t.updatePerson(&old, p)
		return err
	})
}

// updatePerson writes p over old (same id) if anything changed, and
// reports whether it did. p's timestamps are set either way.
func (t *tx) updatePerson(old, p *admin.Person) (bool, error) {
	p.ID, p.CreatedAt = old.ID, old.CreatedAt
	if samePerson(old, p) {
		p.UpdatedAt = old.UpdatedAt
		return false, nil
	}
	p.UpdatedAt = t.now
	if _, err := t.affected(nil, `UPDATE people SET employee_no = ?, name = ?, surname = ?, department = ?, email = ?, active = ?, search = ?, updated_at = ?
		WHERE id = ?`, p.EmployeeNo, p.Name, p.Surname, p.Department, p.Email, p.Active, searchText(p), t.db.t(t.now), p.ID); err != nil {
		return false, fmt.Errorf("sqlstore: update person %d: %w", p.ID, err)
	}
	if grantChange(old, p) {
		if err := t.affect(all, ids(p.ID)); err != nil {
			return false, err
		}
	}
	return true, t.audit(admin.ActionUpdate, "person", p.ID, old, p)
}

// DeletePerson implements admin.Store.
func (db *DB) DeletePerson(ctx context.Context, a admin.Actor, id int64) error {
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getPerson(ctx, t.tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if err := t.affect(all, ids(id)); err != nil {
			return err
		}
		if _, err := t.affected(admin.ErrConflict, `DELETE FROM people WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: delete person %d: %w", id, err)
		}
		return t.audit(admin.ActionDelete, "person", id, old, nil)
	})
}

// ImportPeople implements admin.Store.
func (db *DB) ImportPeople(ctx context.Context, a admin.Actor, people []admin.Person) (created, updated int, err error) {
	var ve admin.ValidationError
	seen := make(map[string]int, len(people))
	for i := range people {
		p := &people[i]
		prefix := fmt.Sprintf("people[%d].", i)
		if err := p.Validate(); err != nil {
			var e *admin.ValidationError
			if errors.As(err, &e) {
				for k, v := range e.Fields {
					addField(&ve, prefix+k, v)
				}
			}
		}
		if j, dup := seen[p.EmployeeNo]; dup && p.EmployeeNo != "" {
			addField(&ve, prefix+"employee_no", fmt.Sprintf("same as people[%d]", j))
		}
		seen[p.EmployeeNo] = i
	}
	if len(ve.Fields) > 0 {
		return 0, 0, &ve
	}
	err = db.write(ctx, a, func(t *tx) error {
		created, updated = 0, 0
		for i := range people {
			p := &people[i]
			old, err := db.getPerson(ctx, t.tx, `employee_no = ?`, p.EmployeeNo)
			switch {
			case errors.Is(err, admin.ErrNotFound):
				if err := t.createPerson(p); err != nil {
					return fmt.Errorf("people[%d]: %w", i, err)
				}
				created++
			case err != nil:
				return err
			default:
				changed, err := t.updatePerson(&old, p)
				if err != nil {
					return fmt.Errorf("people[%d]: %w", i, err)
				}
				if changed {
					updated++
				}
			}
		}
		if created+updated == 0 {
			return nil
		}
		return t.auditID(admin.ActionImport, "person", "", nil, map[string]int{"rows": len(people), "created": created, "updated": updated})
	})
	if err != nil {
		return 0, 0, err
	}
	return created, updated, nil
}

func addField(ve *admin.ValidationError, k, v string) {
	if ve.Fields == nil {
		ve.Fields = map[string]string{}
	}
	if _, ok := ve.Fields[k]; !ok {
		ve.Fields[k] = v
	}
}
