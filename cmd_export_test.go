package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// copyFile replaces dst whole or not at all, and leaves no temporary file.
func TestCopyFileAtomic(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "out.gguf")
	data := bytes.Repeat([]byte("lora"), 5000)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(src, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatalf("dst has %d bytes, want the %d of src", len(got), len(data))
	}
	// A source that cannot be read (a directory) fails and keeps dst as it was.
	if err := copyFile(dir, dst); err == nil {
		t.Fatal("copying a directory succeeded")
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("a failed copy changed dst")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}
