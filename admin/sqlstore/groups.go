package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/varco-access/varco/admin"
)

// doorsOf and peopleOf select a group's doors and people for the refresh
// scope (as an "id" column).
func doorsOf(g int64) sel { return selQ(`SELECT door_id AS id FROM group_doors WHERE group_id = ?`, g) }
func peopleOf(g int64) sel {
	return selQ(`SELECT person_id AS id FROM group_people WHERE group_id = ?`, g)
}

// CreateGroup implements admin.Store.
func (db *DB) CreateGroup(ctx context.Context, a admin.Actor, g *admin.Group) error {
	if err := g.Validate(); err != nil {
		return err
	}
	normGroup(g)
	return db.write(ctx, a, func(t *tx) error {
		id, err := t.insert(admin.ErrNotFound, `INSERT INTO access_groups (name, schedule_id, lockdown_override) VALUES (?, ?, ?)`, g.Name, g.ScheduleID, g.LockdownOverride)
		if err != nil {
			return fmt.Errorf("sqlstore: create group %q: %w", g.Name, err)
		}
		g.ID = id
		if err := t.addMembers(id, "group_doors", "door_id", g.DoorIDs); err != nil {
			return err
		}
		if err := t.addMembers(id, "group_people", "person_id", g.PersonIDs); err != nil {
			return err
		}
		if len(g.DoorIDs) > 0 && len(g.PersonIDs) > 0 {
			if err := t.affect(doorsOf(id), peopleOf(id)); err != nil {
				return err
			}
		}
		return t.audit(admin.ActionCreate, "group", id, nil, g)
	})
}

func normGroup(g *admin.Group) {
	g.DoorIDs = sortedUnique(g.DoorIDs)
	g.PersonIDs = sortedUnique(g.PersonIDs)
}

func sortedUnique(v []int64) []int64 {
	v = slices.Clone(v)
	slices.Sort(v)
	v = slices.Compact(v)
	if v == nil {
		v = []int64{}
	}
	return v
}

// addMembers inserts (group, id) rows, ignoring those already present, and
// returns the ids actually added.
func (t *tx) addMembers(group int64, table, col string, idv []int64) error {
	_, err := t.addMembersN(group, table, col, idv)
	return err
}

func (t *tx) addMembersN(group int64, table, col string, idv []int64) ([]int64, error) {
	var added []int64
	for _, id := range idv {
		n, err := t.affected(admin.ErrNotFound, `INSERT INTO `+table+` (group_id, `+col+`) VALUES (?, ?) ON CONFLICT DO NOTHING`, group, id)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: group %d: add %s %d: %w", group, col, id, err)
		}
		if n > 0 {
			added = append(added, id)
		}
	}
	return added, nil
}

// GetGroup implements admin.Store.
func (db *DB) GetGroup(ctx context.Context, id int64) (admin.Group, error) {
	gs, err := db.listGroups(ctx, db.r, `WHERE id = ?`, id)
	if err != nil {
		return admin.Group{}, err
	}
	if len(gs) == 0 {
		return admin.Group{}, fmt.Errorf("sqlstore: group %d: %w", id, admin.ErrNotFound)
	}
	return gs[0], nil
}

// ListGroups implements admin.Store.
func (db *DB) ListGroups(ctx context.Context) ([]admin.Group, error) {
	return db.listGroups(ctx, db.r, "")
}

// ListPersonGroups implements admin.Store.
func (db *DB) ListPersonGroups(ctx context.Context, personID int64) ([]admin.Group, error) {
	return db.listGroups(ctx, db.r, `WHERE id IN (SELECT group_id FROM group_people WHERE person_id = ?)`, personID)
}

func (db *DB) listGroups(ctx context.Context, q queryer, where string, args ...any) ([]admin.Group, error) {
	rows, err := q.QueryContext(ctx, db.q(`SELECT id, name, schedule_id, lockdown_override FROM access_groups `+where+` ORDER BY name, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list groups: %w", err)
	}
	gs, err := collect(rows, func(r scanner, g *admin.Group) error {
		return r.Scan(&g.ID, &g.Name, &g.ScheduleID, &g.LockdownOverride)
	})
	if err != nil {
		return nil, err
	}
	for i := range gs {
		g := &gs[i]
		if g.DoorIDs, err = db.memberIDs(ctx, q, "group_doors", "door_id", g.ID); err != nil {
			return nil, err
		}
		if g.PersonIDs, err = db.memberIDs(ctx, q, "group_people", "person_id", g.ID); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

func (db *DB) memberIDs(ctx context.Context, q queryer, table, col string, group int64) ([]int64, error) {
	rows, err := q.QueryContext(ctx, db.q(`SELECT `+col+` FROM `+table+` WHERE group_id = ? ORDER BY `+col), group)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: group %d %s: %w", group, table, err)
	}
	return collect(rows, func(r scanner, id *int64) error { return r.Scan(id) })
}

// UpdateGroup implements admin.Store.
func (db *DB) UpdateGroup(ctx context.Context, a admin.Actor, g *admin.Group) error {
	if err := g.Validate(); err != nil {
		return err
	}
	normGroup(g)
	return db.write(ctx, a, func(t *tx) error {
		gs, err := db.listGroups(ctx, t.tx, `WHERE id = ?`, g.ID)
		if err != nil {
			return err
		}
		if len(gs) == 0 {
			return fmt.Errorf("sqlstore: group %d: %w", g.ID, admin.ErrNotFound)
		}
		old := gs[0]
		sameSched := (old.ScheduleID == nil) == (g.ScheduleID == nil) && (old.ScheduleID == nil || *old.ScheduleID == *g.ScheduleID)
		sameAccess := sameSched && old.LockdownOverride == g.LockdownOverride &&
			slices.Equal(old.DoorIDs, g.DoorIDs) && slices.Equal(old.PersonIDs, g.PersonIDs)
		if sameAccess && old.Name == g.Name {
			return nil
		}
		if !sameAccess {
			// Scope: the doors and people before and after.
			if err := t.affect(doorsOf(g.ID), peopleOf(g.ID)); err != nil {
				return err
			}
		}
		if _, err := t.affected(admin.ErrNotFound, `UPDATE access_groups SET name = ?, schedule_id = ?, lockdown_override = ? WHERE id = ?`,
			g.Name, g.ScheduleID, g.LockdownOverride, g.ID); err != nil {
			return fmt.Errorf("sqlstore: update group %d: %w", g.ID, err)
		}
		if !slices.Equal(old.DoorIDs, g.DoorIDs) {
			if _, err := t.exec(`DELETE FROM group_doors WHERE group_id = ?`, g.ID); err != nil {
				return err
			}
			if err := t.addMembers(g.ID, "group_doors", "door_id", g.DoorIDs); err != nil {
				return err
			}
		}
		if !slices.Equal(old.PersonIDs, g.PersonIDs) {
			if _, err := t.exec(`DELETE FROM group_people WHERE group_id = ?`, g.ID); err != nil {
				return err
			}
			if err := t.addMembers(g.ID, "group_people", "person_id", g.PersonIDs); err != nil {
				return err
			}
		}
		if !sameAccess {
			if err := t.affect(doorsOf(g.ID), peopleOf(g.ID)); err != nil {
				return err
			}
		}
		return t.audit(admin.ActionUpdate, "group", g.ID, old, g)
	})
}

// DeleteGroup implements admin.Store.
func (db *DB) DeleteGroup(ctx context.Context, a admin.Actor, id int64) error {
	return db.write(ctx, a, func(t *tx) error {
		gs, err := db.listGroups(ctx, t.tx, `WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if len(gs) == 0 {
			return fmt.Errorf("sqlstore: group %d: %w", id, admin.ErrNotFound)
		}
		if err := t.affect(doorsOf(id), peopleOf(id)); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM access_groups WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: delete group %d: %w", id, err)
		}
		return t.audit(admin.ActionDelete, "group", id, gs[0], nil)
	})
}

// membership is the audit record of Add/RemoveGroupPeople and -Doors.
type membership struct {
	PersonIDs []int64 `json:"person_ids,omitempty"`
	DoorIDs   []int64 `json:"door_ids,omitempty"`
}

// AddGroupPeople implements admin.Store.
func (db *DB) AddGroupPeople(ctx context.Context, a admin.Actor, groupID int64, personIDs ...int64) error {
	return db.changeMembers(ctx, a, groupID, "group_people", "person_id", true, personIDs)
}

// RemoveGroupPeople implements admin.Store.
func (db *DB) RemoveGroupPeople(ctx context.Context, a admin.Actor, groupID int64, personIDs ...int64) error {
	return db.changeMembers(ctx, a, groupID, "group_people", "person_id", false, personIDs)
}

// AddGroupDoors implements admin.Store.
func (db *DB) AddGroupDoors(ctx context.Context, a admin.Actor, groupID int64, doorIDs ...int64) error {
	return db.changeMembers(ctx, a, groupID, "group_doors", "door_id", true, doorIDs)
}

// RemoveGroupDoors implements admin.Store.
func (db *DB) RemoveGroupDoors(ctx context.Context, a admin.Actor, groupID int64, doorIDs ...int64) error {
	return db.changeMembers(ctx, a, groupID, "group_doors", "door_id", false, doorIDs)
}

func (db *DB) changeMembers(ctx context.Context, a admin.Actor, groupID int64, table, col string, add bool, idv []int64) error {
	idv = sortedUnique(idv)
	var ve admin.ValidationError
	for i, id := range idv {
		if id <= 0 {
			addField(&ve, fmt.Sprintf("%ss[%d]", col, i), "not an id")
		}
	}
	if len(ve.Fields) > 0 {
		return &ve
	}
	return db.write(ctx, a, func(t *tx) error {
		var n int
		if err := t.queryRow(`SELECT count(*) FROM access_groups WHERE id = ?`, groupID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("sqlstore: group %d: %w", groupID, admin.ErrNotFound)
		}
		var changed []int64
		if add {
			var err error
			if changed, err = t.addMembersN(groupID, table, col, idv); err != nil {
				return err
			}
		} else {
			for _, id := range idv {
				k, err := t.affected(nil, `DELETE FROM `+table+` WHERE group_id = ? AND `+col+` = ?`, groupID, id)
				if err != nil {
					return fmt.Errorf("sqlstore: group %d: remove %s %d: %w", groupID, col, id, err)
				}
				if k > 0 {
					changed = append(changed, id)
				}
			}
		}
		if len(changed) == 0 {
			return nil
		}
		var m membership
		var err error
		action := "add_"
		if !add {
			action = "remove_"
		}
		if col == "person_id" {
			m.PersonIDs = changed
			action += "people"
			err = t.affect(doorsOf(groupID), ids(changed...))
		} else {
			m.DoorIDs = changed
			action += "doors"
			err = t.affect(ids(changed...), peopleOf(groupID))
		}
		if err != nil {
			return err
		}
		if add {
			return t.audit(action, "group", groupID, nil, m)
		}
		return t.audit(action, "group", groupID, m, nil)
	})
}
