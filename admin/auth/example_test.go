package auth_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/auth/authtest"
)

// Wiring the middleware: Authenticate and CSRFProtect on every route,
// one Require per route.
func ExampleRequire() {
	gin.SetMode(gin.TestMode)
	key := make([]byte, auth.CSRFKeySize)
	rand.Read(key) // in the server: a site secret kept with the settings
	csrf, err := auth.NewCSRF(key)
	if err != nil {
		panic(err)
	}
	res := authtest.NewResolver() // in the server: its store

	r := gin.New()
	r.Use(auth.Authenticate(res, "__Host-varco_session"), auth.CSRFProtect(csrf))
	r.POST("/api/v1/doors/:id/unlock", auth.Require(auth.DoorControl), func(c *gin.Context) {
		p, _ := auth.PrincipalFrom(c)
		c.String(http.StatusOK, "unlocked by %s", p.Username)
	})

	for _, p := range []auth.Principal{
		{Username: "fede", Role: auth.RoleFacilities},
		{Username: "hugo", Role: auth.RoleHR},
	} {
		req := httptest.NewRequest("POST", "/api/v1/doors/1/unlock", nil)
		req.Header.Set("Authorization", "Bearer "+res.AddToken(p))
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Body)
	}
	// Output:
	// 200 unlocked by fede
	// 403 {"error":"forbidden: role hr lacks permission doors.control"}
}

// Checking a login with the limiter keyed by user and by address.
func ExampleLimiter() {
	lim := auth.NewLimiter(nil)
	stored, _ := auth.TestParams.Hash("correct horse battery") // from the store
	login := func(user, addr, pw string) error {
		for _, k := range []string{"user:" + user, "ip:" + addr} {
			if ok, _ := lim.Allow(k); !ok {
				return auth.ErrRateLimited
			}
		}
		ok, _, err := auth.VerifyPassword(stored, pw)
		if err != nil {
			return err
		}
		if !ok {
			lim.Failure("user:" + user)
			lim.Failure("ip:" + addr)
			return auth.ErrBadPassword
		}
		lim.Success("user:" + user)
		return nil
	}
	for range 5 {
		login("ada", "192.0.2.7", "guess")
	}
	fmt.Println(login("ada", "192.0.2.7", "correct horse battery"))
	fmt.Println(login("ada", "198.51.100.1", "correct horse battery"))
	// Output:
	// auth: too many failed logins, try again later
	// auth: too many failed logins, try again later
}
