package gotosocial

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestStartAndToken(t *testing.T) {
	s := StartT(t, Options{})
	u := s.NewUser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/accounts/verify_credentials", nil)
	req.Header.Set("Authorization", "Bearer "+u.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("verify_credentials with the token: %s", resp.Status)
	}
}
