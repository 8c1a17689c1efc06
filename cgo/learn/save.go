package learn

/*
#include <stdlib.h>
#include "train.h"
*/
import "C"

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"unsafe"
)

// writeAtomic has write fill a temporary file next to path, fsyncs it and renames
// it over path, so a crash leaves either the old file or the new one.
func writeAtomic(path string, write func(tmp string) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp) // no-op once renamed
	if err := write(tmp); err != nil {
		return err
	}
	f, err = os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

type cWriter func(t *C.struct_atod_trainer, path *C.char, err *C.char, n C.size_t) C.int

func (t *Learner) writeGGUF(path string, w cWriter) error {
	return writeAtomic(path, func(tmp string) error {
		cp := C.CString(tmp)
		defer C.free(unsafe.Pointer(cp))
		var errBuf [256]C.char
		if w(t.c, cp, &errBuf[0], C.size_t(len(errBuf))) != 0 {
			return errors.New(C.GoString(&errBuf[0]))
		}
		return nil
	})
}

// SaveAdapter writes the LoRA adapter as a llama.cpp LoRA GGUF (general.type
// "adapter", adapter.lora.alpha, NAME.lora_a [n_in, r] and NAME.lora_b [r, n_out]).
func (t *Learner) SaveAdapter(path string) error {
	if err := t.writeGGUF(path, func(c *C.struct_atod_trainer, p, e *C.char, n C.size_t) C.int {
		return C.atod_train_save_adapter(c, p, e, n)
	}); err != nil {
		return fmt.Errorf("save adapter %s: %w", path, err)
	}
	return nil
}

// SaveWeights writes what the sampler loads as the trained weights: the LoRA
// adapter, or in FullWeights mode the whole model.
func (t *Learner) SaveWeights(path string) error {
	if t.cfg.FullWeights {
		return t.SaveModel(path)
	}
	return t.SaveAdapter(path)
}

// SaveModel writes the whole model (FullWeights mode): the base GGUF's metadata
// and tokenizer with every trained tensor in F32.
func (t *Learner) SaveModel(path string) error {
	if err := t.writeGGUF(path, func(c *C.struct_atod_trainer, p, e *C.char, n C.size_t) C.int {
		return C.atod_train_save_model(c, p, e, n)
	}); err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	return nil
}

// Optimizer state file: magic, version, step, then per trainable tensor its name,
// shape, values and AdamW moments (little-endian float32), then the CRC-32 (IEEE)
// of everything before it.
const (
	stateMagic   = "ATODTRS\x00"
	stateVersion = 1
)

// SaveState writes the trainable parameters, AdamW moments and step count.
func (t *Learner) SaveState(path string) error {
	var b bytes.Buffer
	b.WriteString(stateMagic)
	le := binary.LittleEndian
	b.Write(le.AppendUint32(nil, stateVersion))
	b.Write(le.AppendUint64(nil, uint64(t.step)))
	b.Write(le.AppendUint32(nil, uint32(len(t.params))))
	for _, q := range t.params {
		b.Write(le.AppendUint16(nil, uint16(len(q.name))))
		b.WriteString(q.name)
		b.Write(le.AppendUint64(nil, uint64(q.ne[0])))
		b.Write(le.AppendUint64(nil, uint64(q.ne[1])))
		for _, xs := range [][]float32{q.data, q.m, q.v} {
			buf := make([]byte, 4*len(xs))
			for i, x := range xs {
				le.PutUint32(buf[4*i:], math.Float32bits(x))
			}
			b.Write(buf)
		}
	}
	b.Write(le.AppendUint32(nil, crc32.ChecksumIEEE(b.Bytes())))
	err := writeAtomic(path, func(tmp string) error { return os.WriteFile(tmp, b.Bytes(), 0o644) })
	if err != nil {
		return fmt.Errorf("save state %s: %w", path, err)
	}
	return nil
}

// LoadState restores what SaveState wrote; the learner must have the same
// trainable tensors (same base model, mode, rank and targets).
func (t *Learner) LoadState(path string) error {
	if err := t.loadState(path); err != nil {
		return fmt.Errorf("load state %s: %w", path, err)
	}
	return nil
}

func (t *Learner) loadState(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	if len(raw) < len(stateMagic)+4+8+4+4 || string(raw[:len(stateMagic)]) != stateMagic {
		return errors.New("not an atod optimizer state file")
	}
	body := raw[:len(raw)-4]
	if crc32.ChecksumIEEE(body) != le.Uint32(raw[len(raw)-4:]) {
		return errors.New("checksum mismatch (truncated or corrupt)")
	}
	r := bytes.NewReader(body[len(stateMagic):])
	var hdr struct {
		Version uint32
		Step    uint64
		N       uint32
	}
	if err := binary.Read(r, le, &hdr); err != nil {
		return err
	}
	if hdr.Version != stateVersion {
		return fmt.Errorf("state version %d, want %d", hdr.Version, stateVersion)
	}
	if int(hdr.N) != len(t.params) {
		return fmt.Errorf("%d tensors in state, the learner has %d", hdr.N, len(t.params))
	}
	// decode everything before touching the learner, so a bad file changes nothing
	vals := make([][3][]float32, len(t.params))
	for i, q := range t.params {
		var nl uint16
		if err := binary.Read(r, le, &nl); err != nil {
			return err
		}
		name := make([]byte, nl)
		if _, err := io.ReadFull(r, name); err != nil {
			return err
		}
		var ne [2]int64
		if err := binary.Read(r, le, &ne); err != nil {
			return err
		}
		if string(name) != q.name || ne != q.ne {
			return fmt.Errorf("tensor %d is %s %v in state, %s %v in the learner", i, name, ne, q.name, q.ne)
		}
		for k := range vals[i] {
			vals[i][k] = make([]float32, len(q.data))
			if err := binary.Read(r, le, vals[i][k]); err != nil {
				return err
			}
		}
	}
	if r.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", r.Len())
	}
	for i, q := range t.params {
		q.data, q.m, q.v = vals[i][0], vals[i][1], vals[i][2]
		C.atod_train_param_set(t.c, C.int32_t(i), (*C.float)(&q.data[0]))
	}
	t.step = int(hdr.Step)
	return nil
}
