package httpcall

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testnet"
)

func TestTransport(t *testing.T) {
	answered := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "yes")
		w.WriteHeader(http.StatusCreated)
	}))
	defer answered.Close()
	// lost reads the whole request, then drops the connection unanswered:
	// the server may have acted.
	lost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer lost.Close()

	tests := []struct {
		name       string
		url        string
		wantErr    bool
		wantStatus int
		wantSent   bool // MaybeSent after the failure
		wantClass  channels.Kind
	}{
		{name: "answered", url: answered.URL, wantStatus: http.StatusCreated},
		{name: "answer lost", url: lost.URL, wantErr: true, wantSent: true, wantClass: channels.KindAmbiguous},
		{name: "refused", url: "http://" + testnet.FreeAddr(t), wantErr: true, wantClass: channels.KindTemporary},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, client := Client(&http.Client{Transport: &http.Transport{}}, nil)
			ctx, c := With(context.Background())
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if got := c.MaybeSent(err); got != tc.wantSent {
					t.Errorf("MaybeSent = %v, want %v", got, tc.wantSent)
				}
				if k, _ := channels.Classify(Failed(err, c, true)); k != tc.wantClass {
					t.Errorf("Failed(create) class = %v, want %v", k, tc.wantClass)
				}
				if k, _ := channels.Classify(Failed(err, c, false)); k != channels.KindTemporary {
					t.Errorf("Failed(read) class = %v, want Temporary", k)
				}
				return
			}
			resp.Body.Close()
			status, h := c.Answer()
			if status != tc.wantStatus || h.Get("X-Test") != "yes" {
				t.Errorf("Answer = %d %v, want %d with X-Test", status, h, tc.wantStatus)
			}
		})
	}
}

func TestFailedWithoutCall(t *testing.T) {
	if k, _ := channels.Classify(Failed(errors.New("boom"), nil, true)); k != channels.KindTemporary {
		t.Errorf("class = %v, want Temporary", k)
	}
}

func TestClientDefaults(t *testing.T) {
	plain, tracked := Client(nil, nil)
	if plain == nil || plain.Timeout == 0 || tracked.Timeout != plain.Timeout {
		t.Fatalf("plain %+v, tracked %+v: want a default timeout on both", plain, tracked)
	}
	tr, ok := tracked.Transport.(*Transport)
	if !ok || tr.Base != http.DefaultTransport {
		t.Fatalf("tracked transport %#v, want a Transport around http.DefaultTransport", tracked.Transport)
	}
}
