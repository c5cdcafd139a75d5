package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/finegrain/finegrain/exported"
)

// predictRequest is a decoded :predict request body, checked against the model's signature.
type predictRequest struct {
	Signature string   // exported.ServingDefault or exported.PredictJPEG
	Columnar  bool     // "inputs" (answer "outputs") rather than "instances" (answer "predictions")
	Outputs   []string // the outputs to return, in the signature's order
	// Exactly one of these is set, by the signature.
	Images  *exported.Images // serving_default: float32 [N, S, S, 3]
	Encoded [][]byte         // predict_jpeg: the encoded images
}

// requestLimits bound what one request may ask for.
type requestLimits struct {
	Size         int // the model's input side S
	MaxInstances int // images per request
}

// signatureOutputs are the outputs of both signatures, in the order the responses list them.
var signatureOutputs = []string{exported.OutputLogits, exported.OutputProbs, exported.OutputCAM}

// badRequest is a client error: the request is malformed or does not fit the signature (HTTP 400,
// TensorFlow Serving's INVALID_ARGUMENT).
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

// notFound is an unknown model, version or signature (HTTP 404).
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }

// decodePredict parses a TensorFlow Serving predict request (api_rest.md's "Request format"): a JSON
// object with an optional "signature_name" and either "instances" (row format) or "inputs" (columnar
// format), plus this server's optional "output_filter" (the PredictRequest field of the gRPC API).
// Binary values are {"b64": "..."}. Errors are *badRequest or, for an unknown signature, *notFound.
func decodePredict(body []byte, lim requestLimits) (*predictRequest, error) {
	var top struct {
		Signature    *string         `json:"signature_name"`
		Instances    json.RawMessage `json:"instances"`
		Inputs       json.RawMessage `json:"inputs"`
		OutputFilter []string        `json:"output_filter"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil {
		return nil, badf("malformed JSON request: %v", err)
	}
	if dec.More() {
		return nil, badf("malformed JSON request: data after the JSON object")
	}
	req := &predictRequest{Signature: exported.ServingDefault}
	if top.Signature != nil && *top.Signature != "" {
		req.Signature = *top.Signature
	}
	if req.Signature != exported.ServingDefault && req.Signature != exported.PredictJPEG {
		return nil, &notFound{fmt.Sprintf("Serving signature key %q not found.", req.Signature)}
	}
	hasInst, hasInputs := present(top.Instances), present(top.Inputs)
	switch {
	case hasInst && hasInputs:
		return nil, badf("JSON request has both \"instances\" and \"inputs\": use one of them")
	case !hasInst && !hasInputs:
		return nil, badf("missing \"instances\" or \"inputs\" key")
	}
	req.Columnar = hasInputs
	if top.OutputFilter == nil {
		req.Outputs = signatureOutputs
	} else {
		for _, o := range top.OutputFilter {
			if !slices.Contains(signatureOutputs, o) {
				return nil, badf("output_filter: signature %s has no output %q (has %v)", req.Signature, o, signatureOutputs)
			}
		}
		for _, o := range signatureOutputs {
			if slices.Contains(top.OutputFilter, o) {
				req.Outputs = append(req.Outputs, o)
			}
		}
		if len(req.Outputs) == 0 {
			return nil, badf("output_filter is empty")
		}
	}
	input := exported.InputImages
	if req.Signature == exported.PredictJPEG {
		input = exported.InputBytes
	}
	var values []json.RawMessage // one per image
	var err error
	if req.Columnar {
		values, err = columnar(top.Inputs, input, req.Signature == exported.PredictJPEG)
	} else {
		values, err = rows(top.Instances, input)
	}
	if err != nil {
		return nil, err
	}
	if len(values) > lim.MaxInstances {
		return nil, badf("%d instances in one request, at most %d", len(values), lim.MaxInstances)
	}
	if req.Signature == exported.PredictJPEG {
		req.Encoded = make([][]byte, len(values))
		for i, v := range values {
			if req.Encoded[i], err = binaryValue(v); err != nil {
				return nil, badf("instance %d: input %s: %v", i, input, err)
			}
		}
		return req, nil
	}
	s := lim.Size
	img := &exported.Images{N: len(values), Height: s, Width: s, Pix: make([]float32, 0, len(values)*s*s*3)}
	for i, v := range values {
		if img.Pix, err = appendTensor(img.Pix, v, []int{s, s, 3}); err != nil {
			return nil, badf("instance %d: input %s: %v", i, input, err)
		}
	}
	req.Images = img
	return req, nil
}

// present reports whether a key was given with a value other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// rows splits the row format's "instances" list into one value of the input per instance. An
// instance is either the value itself or an object naming the input.
func rows(raw json.RawMessage, input string) ([]json.RawMessage, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, badf("\"instances\" must be a list: %v", err)
	}
	out := make([]json.RawMessage, len(list))
	named := -1 // 1 when instances are objects naming the input, 0 when they are bare values
	for i, inst := range list {
		obj, isObj, err := namedObject(inst)
		if err != nil {
			return nil, badf("instance %d: %v", i, err)
		}
		this := 0
		if isObj {
			this = 1
		}
		if named >= 0 && this != named {
			return nil, badf("instance %d: instances mix named objects and bare values", i)
		}
		named = this
		if !isObj {
			out[i] = inst
			continue
		}
		v, err := onlyInput(obj, input)
		if err != nil {
			return nil, badf("instance %d: %v", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// columnar splits the columnar format's "inputs" (the batch of the single input, or an object naming
// the input) into one value per image.
func columnar(raw json.RawMessage, input string, binary bool) ([]json.RawMessage, error) {
	obj, isObj, err := namedObject(raw)
	if err != nil {
		return nil, badf("\"inputs\": %v", err)
	}
	if isObj {
		if raw, err = onlyInput(obj, input); err != nil {
			return nil, badf("\"inputs\": %v", err)
		}
	}
	if binary {
		if _, isB64 := b64Object(raw); isB64 {
			return []json.RawMessage{raw}, nil // a batch of one given as the value itself
		}
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, badf("\"inputs\": input %s must be a list with one entry per image: %v", input, err)
	}
	return list, nil
}

// namedObject parses v as an object of named inputs; a {"b64": ...} value is not one.
func namedObject(v json.RawMessage) (map[string]json.RawMessage, bool, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '{' {
		return nil, false, nil
	}
	if _, ok := b64Object(v); ok {
		return nil, false, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(v, &obj); err != nil {
		return nil, false, err
	}
	return obj, true, nil
}

func onlyInput(obj map[string]json.RawMessage, input string) (json.RawMessage, error) {
	for k := range obj {
		if k != input {
			return nil, fmt.Errorf("unknown input %q: the signature has one input, %q", k, input)
		}
	}
	v, ok := obj[input]
	if !ok {
		return nil, fmt.Errorf("missing input %q", input)
	}
	return v, nil
}

// b64Object returns the text of a {"b64": "..."} object.
func b64Object(v json.RawMessage) (string, bool) {
	var o map[string]json.RawMessage
	if json.Unmarshal(v, &o) != nil || len(o) != 1 {
		return "", false
	}
	raw, ok := o["b64"]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// binaryValue is the bytes of a string input: {"b64": "..."} (standard base64, padded or not) or a
// plain JSON string, as TensorFlow Serving takes both.
func binaryValue(v json.RawMessage) ([]byte, error) {
	if s, ok := b64Object(v); ok {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
				return b, nil
			}
			return nil, fmt.Errorf("bad base64 in \"b64\": %v", err)
		}
		return b, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, errors.New(`want an image as {"b64": "<base64 of the JPEG, PNG or GIF file>"}`)
	}
	return []byte(s), nil
}

// maxDepth bounds the nesting of a tensor value.
const maxDepth = 8

// appendTensor parses v, a JSON number or nested list of numbers whose shape must be want, and
// appends its values in row-major order to dst.
func appendTensor(dst []float32, v json.RawMessage, want []int) ([]float32, error) {
	p := tensorParser{data: v, dst: dst}
	for i := range p.dims {
		p.dims[i] = -1
	}
	p.ws()
	if err := p.value(0); err != nil {
		return dst, err
	}
	p.ws()
	if p.pos != len(p.data) {
		return dst, fmt.Errorf("unexpected data at offset %d", p.pos)
	}
	var shape []int
	for _, d := range p.dims {
		if d < 0 || (p.seen && len(shape) == p.leaf) {
			break
		}
		shape = append(shape, d)
	}
	if !slices.Equal(shape, want) {
		return dst, fmt.Errorf("shape %v, want %v (an RGB image, values 0..255)", shape, want)
	}
	return p.dst, nil
}

// tensorParser reads a nested list of numbers, checking that it is rectangular: the first list seen at
// each depth fixes that dimension. Values beyond the capacity needed are refused early, so a large
// wrong-shaped tensor costs no more memory than a right one.
type tensorParser struct {
	data []byte
	pos  int
	dst  []float32
	dims [maxDepth + 1]int // entries per list at each depth; -1 until a list at that depth ends
	leaf int               // depth at which numbers appear; -1 until the first number
	seen bool
}

func (p *tensorParser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *tensorParser) value(depth int) error {
	if p.pos >= len(p.data) {
		return errors.New("unexpected end of a tensor value")
	}
	if p.data[p.pos] != '[' {
		if p.seen && depth != p.leaf {
			return errors.New("ragged list: numbers and lists at the same depth")
		}
		p.seen, p.leaf = true, depth
		return p.number()
	}
	if depth >= maxDepth {
		return fmt.Errorf("lists nested more than %d deep", maxDepth)
	}
	if p.seen && depth >= p.leaf {
		return errors.New("ragged list: numbers and lists at the same depth")
	}
	p.pos++
	p.ws()
	n := 0
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
	} else {
		for {
			if err := p.value(depth + 1); err != nil {
				return err
			}
			n++
			p.ws()
			if p.pos >= len(p.data) {
				return errors.New("unterminated list")
			}
			c := p.data[p.pos]
			p.pos++
			if c == ']' {
				break
			}
			if c != ',' {
				return fmt.Errorf("unexpected %q in a list", c)
			}
			p.ws()
		}
	}
	switch {
	case p.dims[depth] < 0:
		p.dims[depth] = n
	case p.dims[depth] != n:
		return fmt.Errorf("ragged list: lists of %d and %d entries at depth %d", p.dims[depth], n, depth)
	}
	return nil
}

func (p *tensorParser) number() error {
	start := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.pos++
			continue
		}
		break
	}
	tok := p.data[start:p.pos]
	if len(tok) == 0 {
		if p.pos < len(p.data) && p.data[p.pos] == '"' {
			return errors.New("a string where a number is expected: input images is float32 (binary images go to signature predict_jpeg as {\"b64\": ...})")
		}
		return fmt.Errorf("unexpected data at offset %d: want a number", p.pos)
	}
	if len(p.dst) == cap(p.dst) {
		return errors.New("more values than the input's shape holds")
	}
	if !json.Valid(tok) {
		return fmt.Errorf("bad number %q", tok)
	}
	f, err := strconv.ParseFloat(string(tok), 32)
	if err != nil {
		return fmt.Errorf("number %s out of float32 range", tok)
	}
	p.dst = append(p.dst, float32(f))
	return nil
}
