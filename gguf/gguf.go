// Package gguf writes and reads the GGUF v3 file format of ggml/llama.cpp:
// magic "GGUF", version, counts, typed key-value metadata, tensor infos, then
// tensor data, each tensor aligned to Alignment bytes from the data start.
package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Magic is "GGUF" read as a little-endian uint32.
const Magic = 0x46554747

// Version is the GGUF version this package writes.
const Version = 3

// DefaultAlignment is ggml's tensor data alignment when general.alignment is absent.
const DefaultAlignment = 32

// ValueType is the type tag of a metadata value.
type ValueType uint32

// Metadata value types, as numbered by gguf.h.
const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
)

// TensorType is a ggml tensor element type. F32 and F16 are read and written
// as values; the quantized types are known by their block sizes only, enough to
// read a quantized model's header.
type TensorType uint32

// ggml_type values.
const (
	F32  TensorType = 0
	F16  TensorType = 1
	BF16 TensorType = 30 // sized by blocks of one, like the quantized types
)

// blocks are the quantized types: elements and bytes per block (ggml.c type_traits).
var blocks = map[TensorType][2]uint64{
	2: {32, 18}, 3: {32, 20}, 6: {32, 22}, 7: {32, 24}, 8: {32, 34}, // Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
	10: {256, 84}, 11: {256, 110}, 12: {256, 144}, 13: {256, 176}, 14: {256, 210}, // Q2_K..Q6_K
	BF16: {1, 2},
}

var quantNames = map[TensorType]string{2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0",
	10: "q2_K", 11: "q3_K", 12: "q4_K", 13: "q5_K", 14: "q6_K", BF16: "bf16"}

// Quantized says whether t is stored in blocks (BF16 counts: it is no F32/F16).
func (t TensorType) Quantized() bool { _, ok := blocks[t]; return ok }

// ElemSize is the size in bytes of one element.
func (t TensorType) ElemSize() (int, error) {
	switch t {
	case F32:
		return 4, nil
	case F16:
		return 2, nil
	}
	return 0, fmt.Errorf("unsupported tensor type %d", t)
}

func (t TensorType) String() string {
	switch t {
	case F32:
		return "f32"
	case F16:
		return "f16"
	}
	if n, ok := quantNames[t]; ok {
		return n
	}
	return fmt.Sprintf("ggml type %d", uint32(t))
}

// KV is one metadata entry. Value holds one of: uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64, or a slice of
// one of them (a GGUF array).
type KV struct {
	Key   string
	Value any
}

// valueType returns the GGUF type of v and, for arrays, the element type.
func valueType(v any) (t, elem ValueType, err error) {
	switch v.(type) {
	case uint8:
		return TypeUint8, 0, nil
	case int8:
		return TypeInt8, 0, nil
	case uint16:
		return TypeUint16, 0, nil
	case int16:
		return TypeInt16, 0, nil
	case uint32:
		return TypeUint32, 0, nil
	case int32:
		return TypeInt32, 0, nil
	case float32:
		return TypeFloat32, 0, nil
	case bool:
		return TypeBool, 0, nil
	case string:
		return TypeString, 0, nil
	case uint64:
		return TypeUint64, 0, nil
	case int64:
		return TypeInt64, 0, nil
	case float64:
		return TypeFloat64, 0, nil
	case []uint8:
		return TypeArray, TypeUint8, nil
	case []int8:
		return TypeArray, TypeInt8, nil
	case []uint16:
		return TypeArray, TypeUint16, nil
	case []int16:
		return TypeArray, TypeInt16, nil
	case []uint32:
		return TypeArray, TypeUint32, nil
	case []int32:
		return TypeArray, TypeInt32, nil
	case []float32:
		return TypeArray, TypeFloat32, nil
	case []bool:
		return TypeArray, TypeBool, nil
	case []string:
		return TypeArray, TypeString, nil
	case []uint64:
		return TypeArray, TypeUint64, nil
	case []int64:
		return TypeArray, TypeInt64, nil
	case []float64:
		return TypeArray, TypeFloat64, nil
	}
	return 0, 0, fmt.Errorf("unsupported metadata value type %T", v)
}

// F32Bytes encodes values as little-endian float32.
func F32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// F16Bytes encodes values as little-endian IEEE half floats, rounding to nearest even.
func F16Bytes(v []float32) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], F32ToF16(x))
	}
	return b
}

// Float32s decodes tensor data of type t.
func Float32s(t TensorType, b []byte) ([]float32, error) {
	switch t {
	case F32:
		if len(b)%4 != 0 {
			return nil, fmt.Errorf("f32 data of %d bytes", len(b))
		}
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return v, nil
	case F16:
		if len(b)%2 != 0 {
			return nil, fmt.Errorf("f16 data of %d bytes", len(b))
		}
		v := make([]float32, len(b)/2)
		for i := range v {
			v[i] = F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return v, nil
	}
	return nil, fmt.Errorf("unsupported tensor type %d", t)
}
