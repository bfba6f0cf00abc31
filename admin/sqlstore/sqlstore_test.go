package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/sqlstore"
	"github.com/varco-access/varco/admin/storetest"
)

var (
	ctx   = context.Background()
	actor = admin.Actor{Name: "tester"}
)

// backends runs f on a fresh store of each backend.
func backends(t *testing.T, opts *sqlstore.Options, f func(t *testing.T, db *sqlstore.DB)) {
	t.Run("sqlite", func(t *testing.T) { f(t, openSQLite(t, opts)) })
	t.Run("postgres", func(t *testing.T) { f(t, openPostgres(t, opts)) })
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestTombstonePruning: with 3 revisions of tombstones kept, a delta from
// before the newest pruned tombstone is ErrRevisionGone, later ones still
// reproduce the view.
func TestTombstonePruning(t *testing.T) {
	backends(t, &sqlstore.Options{TombstoneRevisions: 3}, func(t *testing.T, db *sqlstore.DB) {
		d := admin.Door{SiteID: 1, Name: "d", ControllerID: "d1"}
		must(t, db.CreateDoor(ctx, actor, &d))
		var people []int64
		for i := 0; i < 10; i++ {
			p := admin.Person{EmployeeNo: fmt.Sprint(i), Name: "N", Surname: "S", Active: true}
			must(t, db.CreatePerson(ctx, actor, &p))
			c := admin.Card{PersonID: p.ID, NIS: storetest.NIS(i), PublicKey: storetest.Key(i)}
			must(t, db.CreateCard(ctx, actor, &c))
			people = append(people, p.ID)
		}
		g := admin.Group{Name: "g", DoorIDs: []int64{d.ID}, PersonIDs: people}
		must(t, db.CreateGroup(ctx, actor, &g)) // rev 2
		views := map[int64]admin.DoorView{}
		v, err := db.DoorView(ctx, d.ID)
		must(t, err)
		views[v.Revision] = v
		// Each removal is one revision with one tombstone.
		for i := 0; i < 8; i++ {
			must(t, db.RemoveGroupPeople(ctx, actor, g.ID, people[i]))
			v, err := db.DoorView(ctx, d.ID)
			must(t, err)
			views[v.Revision] = v
		}
		cur, _ := db.DoorView(ctx, d.ID) // rev 10
		if cur.Revision != 10 {
			t.Fatalf("revision %d, want 10", cur.Revision)
		}
		for r := int64(0); r <= cur.Revision; r++ {
			delta, err := db.DoorDelta(ctx, d.ID, r)
			// Tombstones at revisions <= 10-3 = 7 are gone: deltas from
			// 7 on work.
			if r < 7 {
				if !errors.Is(err, admin.ErrRevisionGone) {
					t.Errorf("delta from %d: %v, want ErrRevisionGone", r, err)
				}
				continue
			}
			must(t, err)
			st, err := storetest.StateOf(views[r]).Apply(delta)
			must(t, err)
			if fmt.Sprint(st.View(d.ID)) != fmt.Sprint(storetest.StateOf(cur).View(d.ID)) {
				t.Errorf("delta from %d does not reproduce the view", r)
			}
		}
		storetest.CheckViews(t, db)
	})
}

// TestConcurrentWrites: writers racing on the same doors leave views that
// match the domain, and every revision step is one transaction.
func TestConcurrentWrites(t *testing.T) {
	backends(t, nil, func(t *testing.T, db *sqlstore.DB) {
		var doors []int64
		for i := 0; i < 3; i++ {
			d := admin.Door{SiteID: 1, Name: "d", ControllerID: fmt.Sprint("d", i)}
			must(t, db.CreateDoor(ctx, actor, &d))
			doors = append(doors, d.ID)
		}
		g := admin.Group{Name: "g", DoorIDs: doors}
		must(t, db.CreateGroup(ctx, actor, &g))
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				p := admin.Person{EmployeeNo: fmt.Sprint("w", w), Name: "N", Surname: "S", Active: true}
				if err := db.CreatePerson(ctx, actor, &p); err != nil {
					errs <- err
					return
				}
				c := admin.Card{PersonID: p.ID, NIS: storetest.NIS(w), PublicKey: storetest.Key(w)}
				if err := db.CreateCard(ctx, actor, &c); err != nil {
					errs <- err
					return
				}
				for i := 0; i < 5; i++ {
					if err := db.AddGroupPeople(ctx, actor, g.ID, p.ID); err != nil {
						errs <- err
						return
					}
					if err := db.SetCardStatus(ctx, actor, c.ID, admin.CardSuspended); err != nil {
						errs <- err
						return
					}
					if err := db.SetCardStatus(ctx, actor, c.ID, admin.CardActive); err != nil {
						errs <- err
						return
					}
					if i%2 == 1 {
						if err := db.RemoveGroupPeople(ctx, actor, g.ID, p.ID); err != nil {
							errs <- err
							return
						}
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		storetest.CheckViews(t, db)
		for _, d := range doors {
			delta, err := db.DoorDelta(ctx, d, 0)
			must(t, err)
			v, _ := db.DoorView(ctx, d)
			st, _ := storetest.StateOf(admin.DoorView{}).Apply(delta)
			if fmt.Sprint(st.View(d)) != fmt.Sprint(storetest.StateOf(v).View(d)) {
				t.Errorf("door %d: delta from 0 differs from the view", d)
			}
		}
	})
}

// TestRebuildViews: recomputing from scratch finds nothing to change.
func TestRebuildViews(t *testing.T) {
	backends(t, nil, func(t *testing.T, db *sqlstore.DB) {
		d := admin.Door{SiteID: 1, Name: "d", ControllerID: "d1"}
		must(t, db.CreateDoor(ctx, actor, &d))
		p := admin.Person{EmployeeNo: "1", Name: "N", Surname: "S", Active: true}
		must(t, db.CreatePerson(ctx, actor, &p))
		must(t, db.CreateCard(ctx, actor, &admin.Card{PersonID: p.ID, NIS: storetest.NIS(1), PublicKey: storetest.Key(1)}))
		must(t, db.CreateGroup(ctx, actor, &admin.Group{Name: "g", DoorIDs: []int64{d.ID}, PersonIDs: []int64{p.ID}}))
		r, _ := db.DoorRevision(ctx, d.ID)
		must(t, db.RebuildViews(ctx))
		if r2, _ := db.DoorRevision(ctx, d.ID); r2 != r {
			t.Fatalf("RebuildViews moved the revision %d -> %d", r, r2)
		}
	})
}
