package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Writer collects metadata and tensors and writes them as one GGUF file.
// Tensor data may be given up front or produced while writing (Fill), so a
// large model never has to be held in memory.
type Writer struct {
	kvs       []KV
	keys      map[string]int
	tensors   []tensorOut
	names     map[string]bool
	alignment uint64
	err       error
}

type tensorOut struct {
	name  string
	typ   TensorType
	shape []uint64
	size  uint64
	fill  func(io.Writer) error
}

// NewWriter returns an empty writer with the default alignment.
func NewWriter() *Writer {
	return &Writer{keys: map[string]int{}, names: map[string]bool{}, alignment: DefaultAlignment}
}

// Set adds or replaces a metadata entry; see KV for the accepted value types.
// An unsupported type is reported by WriteTo.
func (w *Writer) Set(key string, value any) {
	if _, _, err := valueType(value); err != nil {
		w.fail(fmt.Errorf("key %q: %w", key, err))
		return
	}
	if key == "general.alignment" {
		a, ok := value.(uint32)
		if !ok || a == 0 || a%8 != 0 {
			w.fail(fmt.Errorf("general.alignment must be a uint32 multiple of 8, got %v", value))
			return
		}
		w.alignment = uint64(a)
	}
	if i, ok := w.keys[key]; ok {
		w.kvs[i].Value = value
		return
	}
	w.keys[key] = len(w.kvs)
	w.kvs = append(w.kvs, KV{key, value})
}

// AddTensor adds a tensor with its data. shape is in ggml order: shape[0] is
// the contiguous dimension.
func (w *Writer) AddTensor(name string, typ TensorType, shape []uint64, data []byte) {
	w.AddTensorFunc(name, typ, shape, func(out io.Writer) error {
		_, err := out.Write(data)
		return err
	})
}

// AddTensorFunc adds a tensor whose data fill writes when the file is written;
// fill must write exactly the tensor's byte size.
func (w *Writer) AddTensorFunc(name string, typ TensorType, shape []uint64, fill func(io.Writer) error) {
	if typ != F32 && typ != F16 {
		w.fail(fmt.Errorf("tensor %q: the writer takes f32 and f16 tensors, not %s", name, typ))
		return
	}
	size, err := tensorSize(typ, shape)
	if err != nil {
		w.fail(fmt.Errorf("tensor %q: %w", name, err))
		return
	}
	if w.names[name] {
		w.fail(fmt.Errorf("tensor %q added twice", name))
		return
	}
	w.names[name] = true
	w.tensors = append(w.tensors, tensorOut{name, typ, append([]uint64(nil), shape...), size, fill})
}

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func tensorSize(typ TensorType, shape []uint64) (uint64, error) {
	if len(shape) == 0 || len(shape) > 4 {
		return 0, fmt.Errorf("%d dimensions, want 1..4", len(shape))
	}
	per, block := uint64(1), uint64(1) // bytes per block of elements along shape[0]
	if b, ok := blocks[typ]; ok {
		block, per = b[0], b[1]
	} else {
		es, err := typ.ElemSize()
		if err != nil {
			return 0, err
		}
		per = uint64(es)
	}
	if shape[0]%block != 0 {
		return 0, fmt.Errorf("quantized type %s: rows of %d elements are not whole blocks of %d", typ, shape[0], block)
	}
	n := per
	for i, d := range shape {
		if i == 0 {
			d /= block
		}
		if d == 0 {
			return 0, fmt.Errorf("zero dimension in %v", shape)
		}
		if n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v too large", shape)
		}
		n *= d
	}
	return n, nil
}

func align(n, a uint64) uint64 { return (n + a - 1) / a * a }

// countWriter counts bytes written, for padding and checking fill sizes.
type countWriter struct {
	w io.Writer
	n uint64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}

// WriteTo writes the whole file.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	cw := &countWriter{w: bw}
	le := binary.LittleEndian
	put := func(v any) { binary.Write(cw, le, v) } // errors resurface at Flush
	putString := func(s string) {
		put(uint64(len(s)))
		io.WriteString(cw, s)
	}
	put(uint32(Magic))
	put(uint32(Version))
	put(uint64(len(w.tensors)))
	put(uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		putString(kv.Key)
		writeValue(cw, kv.Value, putString, put)
	}
	var offset uint64
	for _, t := range w.tensors {
		putString(t.name)
		put(uint32(len(t.shape)))
		for _, d := range t.shape {
			put(d)
		}
		put(uint32(t.typ))
		put(offset)
		offset = align(offset+t.size, w.alignment)
	}
	pad := func() {
		if n := align(cw.n, w.alignment) - cw.n; n > 0 {
			cw.Write(make([]byte, n))
		}
	}
	pad()
	for _, t := range w.tensors {
		start := cw.n
		if err := t.fill(cw); err != nil {
			return int64(cw.n), fmt.Errorf("tensor %q: %w", t.name, err)
		}
		if got := cw.n - start; got != t.size {
			return int64(cw.n), fmt.Errorf("tensor %q: wrote %d bytes, want %d", t.name, got, t.size)
		}
		pad()
	}
	if err := bw.Flush(); err != nil {
		return int64(cw.n), err
	}
	return int64(cw.n), nil
}

func writeValue(cw io.Writer, v any, putString func(string), put func(any)) {
	t, elem, _ := valueType(v) // checked in Set
	put(uint32(t))
	switch x := v.(type) {
	case string:
		putString(x)
	case bool:
		put(boolByte(x))
	case []string:
		put(uint32(elem))
		put(uint64(len(x)))
		for _, s := range x {
			putString(s)
		}
	case []bool:
		put(uint32(elem))
		put(uint64(len(x)))
		for _, b := range x {
			put(boolByte(b))
		}
	default:
		if t == TypeArray {
			put(uint32(elem))
			put(uint64(sliceLen(v)))
		}
		put(v) // fixed-size scalars and slices of them
	}
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func sliceLen(v any) int {
	switch x := v.(type) {
	case []uint8:
		return len(x)
	case []int8:
		return len(x)
	case []uint16:
		return len(x)
	case []int16:
		return len(x)
	case []uint32:
		return len(x)
	case []int32:
		return len(x)
	case []float32:
		return len(x)
	case []uint64:
		return len(x)
	case []int64:
		return len(x)
	case []float64:
		return len(x)
	}
	panic(fmt.Sprintf("gguf: not a fixed-size slice: %T", v))
}

// WriteFile writes the file atomically: a temporary file in the same
// directory, synced, then renamed over path.
func (w *Writer) WriteFile(path string) error {
	if w.err != nil {
		return fmt.Errorf("write %s: %w", path, w.err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".gguf-*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = w.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
