package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// TensorInfo describes one tensor of a read file.
type TensorInfo struct {
	Name   string
	Type   TensorType
	Shape  []uint64
	Offset uint64 // from the start of the data section
	Size   uint64 // bytes
}

// SizeAs is how many bytes the tensor would take stored as typ.
func (t TensorInfo) SizeAs(typ TensorType) (uint64, error) { return tensorSize(typ, t.Shape) }

// File is the parsed header of a GGUF file; tensor data stays on disk.
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset uint64 // absolute offset of the data section
	path       string
}

// Limits against corrupt headers: no real metadata comes near them.
const (
	maxStringLen = 1 << 24
	maxArrayLen  = 1 << 24
	maxCount     = 1 << 24
)

// Open parses the header of the GGUF file at path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open gguf: %w", err)
	}
	defer f.Close()
	g, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("read gguf %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read gguf: %w", err)
	}
	for _, t := range g.Tensors {
		if end := g.DataOffset + t.Offset + t.Size; end > uint64(st.Size()) || end < t.Size {
			return nil, fmt.Errorf("read gguf %s: tensor %q ends at %d, past the file end %d", path, t.Name, end, st.Size())
		}
	}
	g.path = path
	return g, nil
}

type reader struct {
	r   *bufio.Reader
	n   uint64
	err error
}

func (r *reader) read(v any) {
	if r.err != nil {
		return
	}
	if err := binary.Read(r.r, binary.LittleEndian, v); err != nil {
		r.err = err
		return
	}
	r.n += uint64(binary.Size(v))
}

func (r *reader) u32() uint32 { return readAs[uint32](r) }
func (r *reader) u64() uint64 { return readAs[uint64](r) }

func (r *reader) str() string {
	n := r.u64()
	if r.err != nil {
		return ""
	}
	if n > maxStringLen {
		r.err = fmt.Errorf("string of %d bytes", n)
		return ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.r, b); err != nil {
		r.err = err
		return ""
	}
	r.n += n
	return string(b)
}

// Read parses a GGUF header from r, which must be positioned at the file start.
func Read(in io.Reader) (*File, error) {
	r := &reader{r: bufio.NewReaderSize(in, 1<<16)}
	if m := r.u32(); r.err == nil && m != Magic {
		return nil, fmt.Errorf("bad magic %#x", m)
	}
	g := &File{Version: r.u32(), Alignment: DefaultAlignment}
	if r.err == nil && g.Version != 2 && g.Version != 3 {
		return nil, fmt.Errorf("unsupported version %d", g.Version)
	}
	nt, nkv := r.u64(), r.u64()
	if r.err == nil && (nt > maxCount || nkv > maxCount) {
		return nil, fmt.Errorf("implausible counts: %d tensors, %d keys", nt, nkv)
	}
	seen := map[string]bool{}
	for i := uint64(0); i < nkv && r.err == nil; i++ {
		key := r.str()
		if seen[key] && r.err == nil {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		v := r.value(ValueType(r.u32()), true)
		g.KV = append(g.KV, KV{key, v})
		if key == "general.alignment" {
			a, ok := v.(uint32)
			if !ok || a == 0 || a%8 != 0 {
				return nil, fmt.Errorf("bad general.alignment %v", v)
			}
			g.Alignment = uint64(a)
		}
	}
	for i := uint64(0); i < nt && r.err == nil; i++ {
		t := TensorInfo{Name: r.str()}
		nd := r.u32()
		if r.err == nil && (nd == 0 || nd > 4) {
			return nil, fmt.Errorf("tensor %q: %d dimensions", t.Name, nd)
		}
		for j := uint32(0); j < nd && r.err == nil; j++ {
			t.Shape = append(t.Shape, r.u64())
		}
		t.Type = TensorType(r.u32())
		t.Offset = r.u64()
		if r.err != nil {
			break
		}
		if t.Offset%g.Alignment != 0 {
			return nil, fmt.Errorf("tensor %q: offset %d not aligned to %d", t.Name, t.Offset, g.Alignment)
		}
		size, err := tensorSize(t.Type, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		t.Size = size
		g.Tensors = append(g.Tensors, t)
	}
	if r.err != nil {
		if errors.Is(r.err, io.EOF) {
			r.err = io.ErrUnexpectedEOF
		}
		return nil, r.err
	}
	g.DataOffset = align(r.n, g.Alignment)
	return g, nil
}

func readAs[T any](r *reader) T {
	var v T
	r.read(&v)
	return v
}

func (r *reader) value(t ValueType, allowArray bool) any {
	switch t {
	case TypeUint8:
		return readAs[uint8](r)
	case TypeInt8:
		return readAs[int8](r)
	case TypeUint16:
		return readAs[uint16](r)
	case TypeInt16:
		return readAs[int16](r)
	case TypeUint32:
		return readAs[uint32](r)
	case TypeInt32:
		return readAs[int32](r)
	case TypeFloat32:
		return readAs[float32](r)
	case TypeBool:
		return readAs[uint8](r) != 0
	case TypeString:
		return r.str()
	case TypeUint64:
		return readAs[uint64](r)
	case TypeInt64:
		return readAs[int64](r)
	case TypeFloat64:
		return readAs[float64](r)
	case TypeArray:
		if allowArray {
			return r.array()
		}
	}
	if r.err == nil {
		r.err = fmt.Errorf("bad value type %d", t)
	}
	return nil
}

func (r *reader) array() any {
	et := ValueType(r.u32())
	n := r.u64()
	if r.err != nil {
		return nil
	}
	if n > maxArrayLen {
		r.err = fmt.Errorf("array of %d elements", n)
		return nil
	}
	switch et {
	case TypeString:
		v := make([]string, 0, min(n, 1<<16))
		for i := uint64(0); i < n && r.err == nil; i++ {
			v = append(v, r.str())
		}
		return v
	case TypeBool:
		b := make([]uint8, n)
		r.read(b)
		v := make([]bool, n)
		for i, x := range b {
			v[i] = x != 0
		}
		return v
	}
	var v any
	switch et {
	case TypeUint8:
		v = make([]uint8, n)
	case TypeInt8:
		v = make([]int8, n)
	case TypeUint16:
		v = make([]uint16, n)
	case TypeInt16:
		v = make([]int16, n)
	case TypeUint32:
		v = make([]uint32, n)
	case TypeInt32:
		v = make([]int32, n)
	case TypeFloat32:
		v = make([]float32, n)
	case TypeUint64:
		v = make([]uint64, n)
	case TypeInt64:
		v = make([]int64, n)
	case TypeFloat64:
		v = make([]float64, n)
	default:
		r.err = fmt.Errorf("bad array element type %d", et)
		return nil
	}
	r.read(v)
	return v
}

// Get returns the value of key, or nil and false.
func (g *File) Get(key string) (any, bool) {
	for _, kv := range g.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Tensor returns the info of the named tensor.
func (g *File) Tensor(name string) (TensorInfo, bool) {
	for _, t := range g.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// ReadTensor reads the raw data of the named tensor from the opened file.
func (g *File) ReadTensor(name string) ([]byte, error) {
	t, ok := g.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf %s: no tensor %q", g.path, name)
	}
	f, err := os.Open(g.path)
	if err != nil {
		return nil, fmt.Errorf("read tensor %q: %w", name, err)
	}
	defer f.Close()
	b := make([]byte, t.Size)
	if _, err := f.ReadAt(b, int64(g.DataOffset+t.Offset)); err != nil {
		return nil, fmt.Errorf("read tensor %q of %s: %w", name, g.path, err)
	}
	return b, nil
}
