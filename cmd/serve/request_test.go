package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/finegrain/finegrain/exported"
)

// img2 is a 2×2×3 image as JSON, with values 0..11.
const img2 = `[[[0,1,2],[3,4,5]],[[6,7,8],[9,10,11]]]`

func TestDecodePredict(t *testing.T) {
	lim := requestLimits{Size: 2, MaxInstances: 3}
	b64 := base64.StdEncoding.EncodeToString([]byte("\x89PNG fake"))
	tests := []struct {
		name     string
		body     string
		wantErr  string // "" = success
		notFound bool
		n        int  // images decoded
		columnar bool // the answer is columnar
		outputs  string
		first    float32 // the first value of the second image (serving_default)
	}{
		{name: "row bare", body: `{"instances": [` + img2 + `, ` + img2 + `]}`, n: 2, outputs: "logits,probabilities,cam"},
		{name: "row named", body: `{"signature_name": "serving_default", "instances": [{"images": ` + img2 + `}]}`, n: 1, outputs: "logits,probabilities,cam"},
		{name: "columnar bare", body: `{"inputs": [` + img2 + `,` + strings.ReplaceAll(img2, "0,1,2", "7.5,1,2") + `]}`, n: 2, columnar: true, outputs: "logits,probabilities,cam", first: 7.5},
		{name: "columnar named", body: `{"inputs": {"images": [` + img2 + `]}}`, n: 1, columnar: true, outputs: "logits,probabilities,cam"},
		{name: "output filter keeps signature order", body: `{"output_filter": ["probabilities", "logits"], "instances": [` + img2 + `]}`, n: 1, outputs: "logits,probabilities"},
		{name: "empty instances", body: `{"instances": []}`, n: 0, outputs: "logits,probabilities,cam"},
		{name: "b64 row", body: `{"signature_name": "predict_jpeg", "instances": [{"b64": "` + b64 + `"}]}`, n: 1, outputs: "logits,probabilities,cam"},
		{name: "b64 row named", body: `{"signature_name": "predict_jpeg", "instances": [{"image_bytes": {"b64": "` + b64 + `"}}]}`, n: 1, outputs: "logits,probabilities,cam"},
		{name: "b64 columnar", body: `{"signature_name": "predict_jpeg", "inputs": {"image_bytes": [{"b64": "` + b64 + `"}, {"b64": "` + b64 + `"}]}}`, n: 2, columnar: true, outputs: "logits,probabilities,cam"},
		{name: "b64 columnar single value", body: `{"signature_name": "predict_jpeg", "inputs": {"b64": "` + b64 + `"}}`, n: 1, columnar: true, outputs: "logits,probabilities,cam"},

		{name: "not JSON", body: `{"instances": [`, wantErr: "malformed JSON"},
		{name: "trailing data", body: `{"instances": []} {}`, wantErr: "data after"},
		{name: "both formats", body: `{"instances": [], "inputs": []}`, wantErr: "both"},
		{name: "neither", body: `{"signature_name": "serving_default"}`, wantErr: "missing \"instances\" or \"inputs\""},
		{name: "unknown signature", body: `{"signature_name": "nope", "instances": []}`, wantErr: `"nope" not found`, notFound: true},
		{name: "wrong shape", body: `{"instances": [[[[0,1,2]]]]}`, wantErr: "shape [1 1 3], want [2 2 3]"},
		{name: "too many values", body: `{"instances": [[[[0,1,2,3],[3,4,5]],[[6,7,8],[9,10,11]]]]}`, wantErr: "instance 0"},
		{name: "ragged", body: `{"instances": [[[[0,1,2],[3,4]],[[6,7,8],[9,10,11]]]]}`, wantErr: "ragged"},
		{name: "number and list mixed", body: `{"instances": [[[0,[1],2]]]}`, wantErr: "ragged"},
		{name: "string pixel", body: `{"instances": [[[["a",1,2],[3,4,5]],[[6,7,8],[9,10,11]]]]}`, wantErr: "predict_jpeg"},
		{name: "float32 overflow", body: `{"instances": [[[[1e39,1,2],[3,4,5]],[[6,7,8],[9,10,11]]]]}`, wantErr: "out of float32 range"},
		{name: "too many instances", body: `{"instances": [` + img2 + `,` + img2 + `,` + img2 + `,` + img2 + `]}`, wantErr: "at most 3"},
		{name: "unknown input", body: `{"instances": [{"pixels": ` + img2 + `}]}`, wantErr: `unknown input "pixels"`},
		{name: "mixed named and bare", body: `{"instances": [{"images": ` + img2 + `}, ` + img2 + `]}`, wantErr: "mix"},
		{name: "instances not a list", body: `{"instances": 3}`, wantErr: "must be a list"},
		{name: "bad base64", body: `{"signature_name": "predict_jpeg", "instances": [{"b64": "!!!"}]}`, wantErr: "bad base64"},
		{name: "number as image bytes", body: `{"signature_name": "predict_jpeg", "instances": [3]}`, wantErr: `{"b64"`},
		{name: "unknown output", body: `{"output_filter": ["scores"], "instances": []}`, wantErr: `no output "scores"`},
		{name: "empty output filter", body: `{"output_filter": [], "instances": []}`, wantErr: "output_filter is empty"},
		{name: "deep nesting", body: `{"instances": [` + strings.Repeat("[", 20) + `1` + strings.Repeat("]", 20) + `]}`, wantErr: "nested more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := decodePredict([]byte(tc.body), lim)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				var nf *notFound
				var br *badRequest
				if tc.notFound != errors.As(err, &nf) || (!tc.notFound && !errors.As(err, &br)) {
					t.Errorf("error %T, want notFound=%v (else badRequest)", err, tc.notFound)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Columnar != tc.columnar || strings.Join(req.Outputs, ",") != tc.outputs {
				t.Errorf("columnar %v outputs %v, want %v %v", req.Columnar, req.Outputs, tc.columnar, tc.outputs)
			}
			switch req.Signature {
			case exported.PredictJPEG:
				if len(req.Encoded) != tc.n || req.Images != nil {
					t.Fatalf("%d encoded images, want %d", len(req.Encoded), tc.n)
				}
				for _, e := range req.Encoded {
					if string(e) != "\x89PNG fake" {
						t.Errorf("bytes %q", e)
					}
				}
			default:
				if req.Images == nil || req.Images.N != tc.n || len(req.Images.Pix) != tc.n*12 {
					t.Fatalf("images %+v, want %d of 2×2×3", req.Images, tc.n)
				}
				for i := 0; i < tc.n; i++ {
					for j := 1; j < 12; j++ {
						if req.Images.Pix[i*12+j] != float32(j) {
							t.Fatalf("image %d value %d = %v, want %d", i, j, req.Images.Pix[i*12+j], j)
						}
					}
				}
				if tc.n == 2 && req.Images.Pix[12] != tc.first {
					t.Errorf("second image starts %v, want %v", req.Images.Pix[12], tc.first)
				}
			}
		})
	}
}

func TestParseRoute(t *testing.T) {
	tests := []struct {
		path    string
		want    route
		wantErr int // HTTP code, 0 = success
	}{
		{path: "/v1/models/m", want: route{name: "m", version: -1}},
		{path: "/v1/models/m/versions/3", want: route{name: "m", version: 3}},
		{path: "/v1/models/m/metadata", want: route{name: "m", version: -1, meta: true}},
		{path: "/v1/models/m/versions/12/metadata", want: route{name: "m", version: 12, meta: true}},
		{path: "/v1/models/m:predict", want: route{name: "m", version: -1, verb: "predict"}},
		{path: "/v1/models/m/versions/2:predict", want: route{name: "m", version: 2, verb: "predict"}},
		{path: "/v1/models/m:cam", want: route{name: "m", version: -1, verb: "cam"}},
		{path: "/v1/models/m/versions/x:predict", wantErr: 400},
		{path: "/v1/models/m/versions/-1", wantErr: 400},
		{path: "/v1/models/m/labels/stable:predict", wantErr: 404},
		{path: "/v1/models/", wantErr: 404},
		{path: "/v1/models/m/extra", wantErr: 404},
		{path: "/v1/models/m/metadata:predict", wantErr: 404},
	}
	for _, tc := range tests {
		got, err := parseRoute(tc.path)
		if tc.wantErr != 0 {
			if code, _ := statusOf(err); err == nil || code != tc.wantErr {
				t.Errorf("parseRoute(%q) = %+v, %v; want HTTP %d", tc.path, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v", tc.path, got, err, tc.want)
		}
	}
}

// FuzzDecodePredict feeds arbitrary bodies to the request decoder: it must never panic, and what it
// accepts must be consistent with the limits.
func FuzzDecodePredict(f *testing.F) {
	for _, s := range []string{
		`{"instances": [` + img2 + `]}`,
		`{"inputs": {"images": [` + img2 + `]}}`,
		`{"signature_name": "predict_jpeg", "instances": [{"b64": "aGVsbG8="}]}`,
		`{"signature_name": "predict_jpeg", "inputs": {"b64": "aGVsbG8"}}`,
		`{"output_filter": ["cam"], "instances": [{"images": ` + img2 + `}]}`,
		`{"instances": [[[[1e39]]]]}`, `{"instances": [[[0,[1]]]]}`, `[]`, `null`, `{"instances": null}`,
	} {
		f.Add([]byte(s))
	}
	lim := requestLimits{Size: 2, MaxInstances: 4}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodePredict(body, lim)
		if err != nil {
			var nf *notFound
			var br *badRequest
			if !errors.As(err, &nf) && !errors.As(err, &br) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(req.Outputs) == 0 {
			t.Fatal("no outputs")
		}
		switch {
		case req.Images != nil && req.Encoded == nil:
			if req.Images.N > lim.MaxInstances || len(req.Images.Pix) != req.Images.N*12 {
				t.Fatalf("images %d with %d values", req.Images.N, len(req.Images.Pix))
			}
		case req.Encoded != nil && req.Images == nil:
			if len(req.Encoded) > lim.MaxInstances {
				t.Fatalf("%d encoded images", len(req.Encoded))
			}
		default:
			t.Fatalf("request with images %v and encoded %v", req.Images != nil, req.Encoded != nil)
		}
	})
}

func TestASCIIJSON(t *testing.T) {
	for _, label := range []string{"plain", "Grive litorne é", "鳥", "𝄞 clef", "quote \" and \\ and \n"} {
		b, err := json.Marshal([]map[string]string{{"label": label}})
		if err != nil {
			t.Fatal(err)
		}
		s := asciiJSON(b)
		for i := range len(s) {
			if s[i] < 0x20 || s[i] > 0x7e {
				t.Fatalf("%q: byte %#x at %d is not printable ASCII in %q", label, s[i], i, s)
			}
		}
		var back []map[string]string
		if err := json.Unmarshal([]byte(s), &back); err != nil || back[0]["label"] != label {
			t.Errorf("%q: %s parses to %v, %v", label, s, back, err)
		}
	}
}
