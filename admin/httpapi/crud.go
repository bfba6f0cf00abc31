package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
)

// crud serves create, get, replace and delete for one entity type whose
// store methods have the usual shapes.
type crud[T any] struct {
	a        *API
	entity   string
	doCreate func(context.Context, admin.Actor, *T) error
	read     func(context.Context, int64) (T, error)
	doUpdate func(context.Context, admin.Actor, *T) error
	remove   func(context.Context, admin.Actor, int64) error
	setID    func(*T, int64)
}

func (h crud[T]) create(c *gin.Context) {
	var v T
	if err := bindJSON(c, &v); err != nil {
		fail(c, err)
		return
	}
	h.setID(&v, 0)
	if err := h.doCreate(c.Request.Context(), actor(c), &v); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, v)
}

func (h crud[T]) get(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	v, err := h.read(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (h crud[T]) update(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var v T
	if err := bindJSON(c, &v); err != nil {
		fail(c, err)
		return
	}
	h.setID(&v, id)
	if err := h.doUpdate(c.Request.Context(), actor(c), &v); err != nil {
		fail(c, err)
		return
	}
	if v, err = h.read(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (h crud[T]) delete(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if err := h.remove(c.Request.Context(), actor(c), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// list serves a whole list.
func list[T any](fn func(context.Context) ([]T, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		vs, err := fn(c.Request.Context())
		if err != nil {
			fail(c, err)
			return
		}
		if vs == nil {
			vs = []T{}
		}
		c.JSON(http.StatusOK, vs)
	}
}
