package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/wire"
)

type (
	doorStatus struct {
		Door admin.Door `json:"door"`
		// Sync is what the door last reported over MQTT (absent when it
		// never connected).
		Sync *syncer.DoorStatus `json:"sync,omitempty"`
		// LastEvent is the door's newest event, if any.
		LastEvent *admin.Event `json:"last_event,omitempty"`
	}
	// accessEntry is one line of "who can open this door".
	accessEntry struct {
		PersonID    string      `json:"person_id"`
		DisplayName string      `json:"display_name"`
		NIS         string      `json:"nis"`
		ScheduleIDs []string    `json:"schedule_ids,omitempty"`
		Always      bool        `json:"always"`
		Lockdown    bool        `json:"lockdown_override"`
		Flags       varco.Flags `json:"flags"`
	}
	doorAccess struct {
		DoorID    int64            `json:"door_id"`
		Revision  int64            `json:"revision"`
		Grants    []accessEntry    `json:"grants"`
		Schedules []varco.Schedule `json:"schedules"`
	}
)

// bySite serves a list filtered by the optional site_id query parameter
// (0: every site).
func bySite[T any](fn func(ctx context.Context, siteID int64) ([]T, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		var ve admin.ValidationError
		site := idQuery(c, "site_id", &ve)
		if len(ve.Fields) > 0 {
			fail(c, &ve)
			return
		}
		list(func(ctx context.Context) ([]T, error) { return fn(ctx, site) })(c)
	}
}

// updateDoor replaces a door's fields but keeps its mode: changing the
// mode is door control, a different permission (PUT /doors/{id}/mode).
func (a *API) updateDoor(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var d admin.Door
	if err := bindJSON(c, &d); err != nil {
		fail(c, err)
		return
	}
	cur, err := a.store.GetDoor(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	if d.Mode != "" && d.Mode != cur.Mode {
		fail(c, &admin.ValidationError{Fields: map[string]string{"mode": "set the mode with PUT /doors/{id}/mode"}})
		return
	}
	d.ID, d.Mode = id, cur.Mode
	if err := a.store.UpdateDoor(c.Request.Context(), actor(c), &d); err != nil {
		fail(c, err)
		return
	}
	if d, err = a.store.GetDoor(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (a *API) setDoorMode(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var b modeBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	if !admin.ValidMode(varco.DoorMode(b.Mode)) {
		fail(c, &admin.ValidationError{Fields: map[string]string{"mode": "must be normal, lockdown, unlocked_schedule or unlocked_command"}})
		return
	}
	if err := a.store.SetDoorMode(c.Request.Context(), actor(c), id, varco.DoorMode(b.Mode)); err != nil {
		fail(c, err)
		return
	}
	d, err := a.store.GetDoor(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (a *API) doorStatus(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	d, err := a.store.GetDoor(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	st := doorStatus{Door: d}
	if a.opt.Sync != nil {
		if ds, ok := a.opt.Sync.Status(d.ControllerID); ok {
			st.Sync = &ds
		}
	}
	evs, _, err := a.store.SearchEvents(c.Request.Context(), admin.EventFilter{DoorID: id, Limit: 1})
	if err != nil {
		fail(c, err)
		return
	}
	if len(evs) > 0 {
		st.LastEvent = &evs[0]
	}
	c.JSON(http.StatusOK, st)
}

func (a *API) doorAccess(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	v, err := a.store.DoorView(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	out := doorAccess{DoorID: v.DoorID, Revision: v.Revision, Grants: make([]accessEntry, 0, len(v.Grants)), Schedules: v.Schedules}
	if out.Schedules == nil {
		out.Schedules = []varco.Schedule{}
	}
	for _, g := range v.Grants {
		out.Grants = append(out.Grants, accessEntry{PersonID: g.PersonID, DisplayName: g.DisplayName, NIS: g.NIS,
			ScheduleIDs: g.ScheduleIDs, Always: g.Flags.Has(varco.FlagAlways), Lockdown: g.Flags.Has(varco.FlagLockdownOverride), Flags: g.Flags})
	}
	c.JSON(http.StatusOK, out)
}

// command sends a signed command to the door.
func (a *API) command(action wire.Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := idParam(c, "id")
		if err != nil {
			fail(c, err)
			return
		}
		d, err := a.store.GetDoor(c.Request.Context(), id)
		if err != nil {
			fail(c, err)
			return
		}
		if a.opt.Sync == nil {
			fail(c, errNoSync)
			return
		}
		cmd, err := a.opt.Sync.Command(c.Request.Context(), d.ControllerID, action, actor(c).Name)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusAccepted, cmd)
	}
}

// members changes a group's people or doors and answers the group.
func (a *API) members(fn func(context.Context, admin.Actor, int64, ...int64) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := idParam(c, "id")
		if err != nil {
			fail(c, err)
			return
		}
		var b idsBody
		if err := bindJSON(c, &b); err != nil {
			fail(c, err)
			return
		}
		if len(b.IDs) == 0 {
			fail(c, &admin.ValidationError{Fields: map[string]string{"ids": "at least one id"}})
			return
		}
		if err := fn(c.Request.Context(), actor(c), id, b.IDs...); err != nil {
			fail(c, err)
			return
		}
		g, err := a.store.GetGroup(c.Request.Context(), id)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, g)
	}
}
