package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/wire"
)

// MaxEnrolWait bounds the long poll of GET /enrol/sessions/{id}?wait=.
const MaxEnrolWait = 30 * time.Second

// Enroller is what the API needs to run enrolment sessions with the
// stations (syncer.Syncer implements it).
type Enroller interface {
	// StartEnrol sends station a fresh challenge; the card it answers
	// with is stored for personID (0: verified only) once verified.
	StartEnrol(ctx context.Context, station string, personID int64, by string) (syncer.EnrolSession, error)
	// EnrolResult is a session as it stands.
	EnrolResult(id string) (syncer.EnrolSession, bool)
	// WaitEnrol returns a session once it is no longer waiting, or when
	// ctx ends.
	WaitEnrol(ctx context.Context, id string) (syncer.EnrolSession, bool)
}

// enrolSessionBody starts an enrolment session.
type enrolSessionBody struct {
	// Station is the enrolment station's id (its certificate is
	// "station:<id>").
	Station string `json:"station"`
	// PersonID is who the card is enrolled for; leave it out to verify a
	// card without storing it.
	PersonID int64 `json:"person_id,omitempty"`
}

var errNoEnrol = errors.New("no enrolment stations can be reached from this server (MQTT sync is off)")

// startEnrol opens a session: the station gets the challenge at once.
func (a *API) startEnrol(c *gin.Context) {
	if a.opt.Enrol == nil {
		fail(c, errNoEnrol)
		return
	}
	var b enrolSessionBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	ve := map[string]string{}
	if !wire.ValidID(b.Station) {
		ve["station"] = fmt.Sprintf("want the station's id: 1 to %d ASCII letters, digits, '.', '_' or '-'", wire.MaxIDLength)
	}
	if b.PersonID < 0 {
		ve["person_id"] = "not an id"
	} else if b.PersonID > 0 {
		if _, err := a.store.GetPerson(c.Request.Context(), b.PersonID); errors.Is(err, admin.ErrNotFound) {
			ve["person_id"] = "no such person"
		} else if err != nil {
			fail(c, err)
			return
		}
	}
	if len(ve) > 0 {
		fail(c, &admin.ValidationError{Fields: ve})
		return
	}
	s, err := a.opt.Enrol.StartEnrol(c.Request.Context(), b.Station, b.PersonID, actor(c).Name)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, s)
}

// getEnrol answers a session's state; with ?wait=D it waits up to D
// (at most MaxEnrolWait) for a waiting session to end.
func (a *API) getEnrol(c *gin.Context) {
	if a.opt.Enrol == nil {
		fail(c, errNoEnrol)
		return
	}
	id := c.Param("id")
	var wait time.Duration
	if s := c.Query("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > MaxEnrolWait {
			fail(c, &admin.ValidationError{Fields: map[string]string{"wait": fmt.Sprintf("want a duration from 0s to %v, such as 20s", MaxEnrolWait)}})
			return
		}
		wait = d
	}
	var s syncer.EnrolSession
	ok := wire.ValidID(id)
	if ok {
		if wait > 0 {
			ctx, cancel := context.WithTimeout(c.Request.Context(), wait)
			s, ok = a.opt.Enrol.WaitEnrol(ctx, id)
			cancel()
		} else {
			s, ok = a.opt.Enrol.EnrolResult(id)
		}
	}
	if !ok {
		fail(c, fmt.Errorf("enrolment session %q: %w", clip(id), admin.ErrNotFound))
		return
	}
	c.JSON(http.StatusOK, s)
}
