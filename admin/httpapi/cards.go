package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/reader"
)

// enrolBody is what an enrolment station read from a card (CIE.md
// section 6, the enrolment read): the NIS, the public key file and
// EF.SOD, base64 in JSON.
type enrolBody struct {
	PersonID  int64  `json:"person_id"`
	NIS       string `json:"nis"`
	PublicKey []byte `json:"public_key"`
	SOD       []byte `json:"sod"`
}

// verifyCard runs passive authentication on what the station read and
// returns the card to store, or an *admin.Refusal with the reason (the
// station gave no challenge of the admin's: the anti-clone check is the
// enrolment sessions' job, POST /enrol/sessions).
func (a *API) verifyCard(c *gin.Context, b enrolBody) (admin.Card, error) {
	card := admin.Card{PersonID: b.PersonID, NIS: b.NIS, PublicKey: b.PublicKey, Status: admin.CardActive,
		EnrolledAt: a.opt.Now().UTC(), EnrolledBy: actor(c).Name}
	if err := card.Validate(); err != nil {
		return card, err
	}
	if len(b.SOD) == 0 {
		return card, &admin.ValidationError{Fields: map[string]string{"sod": "required: the card's EF.SOD, read at enrolment"}}
	}
	v, err := admin.VerifyCard(admin.CardRead{NIS: b.NIS, PublicKey: b.PublicKey, SOD: b.SOD}, a.opt.CSCAs, a.opt.Now())
	if err != nil {
		return card, err
	}
	card.SODGeneration, card.DSSubject, card.Verification = v.SODGeneration, v.DSSubject, v.Verification
	return card, nil
}

func (a *API) enrol(c *gin.Context) {
	var b enrolBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	card, err := a.verifyCard(c, b)
	if err != nil {
		fail(c, err)
		return
	}
	if err := a.store.CreateCard(c.Request.Context(), actor(c), &card); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, card)
}

func (a *API) replaceCard(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	old, err := a.store.GetCard(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	var b enrolBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	if b.PersonID != 0 && b.PersonID != old.PersonID {
		fail(c, &admin.ValidationError{Fields: map[string]string{"person_id": "a replacement card belongs to the old card's person: leave it out"}})
		return
	}
	b.PersonID = old.PersonID
	card, err := a.verifyCard(c, b)
	if err != nil {
		fail(c, err)
		return
	}
	if err := a.store.ReplaceCard(c.Request.Context(), actor(c), id, &card); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, card)
}

func (a *API) findCard(c *gin.Context) {
	nis := c.Query("nis")
	if err := reader.CheckNIS([]byte(nis)); err != nil {
		fail(c, &admin.ValidationError{Fields: map[string]string{"nis": "must be 12 digits"}})
		return
	}
	card, err := a.store.GetCardByNIS(c.Request.Context(), nis)
	if errors.Is(err, admin.ErrNotFound) {
		c.JSON(http.StatusOK, []admin.Card{})
		return
	} else if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, []admin.Card{card})
}

func (a *API) getCard(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	card, err := a.store.GetCard(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, card)
}

func (a *API) setCardStatus(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var b statusBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	if !b.Status.Valid() {
		fail(c, &admin.ValidationError{Fields: map[string]string{"status": "must be active, suspended or revoked"}})
		return
	}
	if err := a.store.SetCardStatus(c.Request.Context(), actor(c), id, b.Status); err != nil {
		fail(c, err)
		return
	}
	a.getCard(c)
}

func (a *API) deleteCard(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if err := a.store.DeleteCard(c.Request.Context(), actor(c), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
