package gdrive

import (
	"strings"
	"testing"
)

func TestRefuseKey(t *testing.T) {
	b := &Backend{}
	deep := func(folders int) string { return strings.Repeat("d/", folders) + "f" }
	if err := b.RefuseKey(deep(maxFolderDepth)); err != nil {
		t.Errorf("%d folders deep: %v", maxFolderDepth, err)
	}
	if err := b.RefuseKey(deep(maxFolderDepth + 1)); err == nil {
		t.Errorf("%d folders deep: not refused", maxFolderDepth+1)
	}
	// resolveDir, which Put calls with the key's folder, agrees.
	if _, err := b.resolveDir(t.Context(), strings.TrimSuffix(deep(maxFolderDepth+1), "/f"), true); err == nil {
		t.Error("resolveDir accepts a folder RefuseKey refuses")
	}
	if err := b.RefuseKey(strings.Repeat("n", 4096)); err != nil {
		t.Errorf("a long name: %v (Drive documents no limit)", err)
	}
}
