package backends

import (
	"maps"
	"testing"
)

// Drop, then set; names in any case; the source's metadata is not changed.
func TestMetaEditApply(t *testing.T) {
	src := &Metadata{CacheControl: "max-age=1", ContentLanguage: "fr", User: map[string]string{"id": "7", "keep": "k"},
		Tags: map[string]string{"a": "1"}, TagsKnown: true}
	e := &MetaEdit{
		Set:  map[string]string{"Cache-Control": "no-store", "x-amz-meta-new": "n", "x-amz-tagging": "b=2&c=a%20b"},
		Drop: []string{"X-Amz-Meta-Id", "content-language"},
	}
	got, err := e.Apply(src)
	if err != nil {
		t.Fatal(err)
	}
	if got.CacheControl != "no-store" || got.ContentLanguage != "" ||
		!maps.Equal(got.User, map[string]string{"keep": "k", "new": "n"}) ||
		!maps.Equal(got.Tags, map[string]string{"b": "2", "c": "a b"}) || !got.TagsKnown {
		t.Errorf("Apply = %+v", got)
	}
	if src.CacheControl != "max-age=1" || src.User["id"] != "7" || src.Tags["a"] != "1" {
		t.Errorf("Apply changed its input: %+v", src)
	}
	if got, err := (*MetaEdit)(nil).Apply(nil); err != nil || got == nil {
		t.Errorf("nil edit of nil metadata = %v, %v", got, err)
	}
	if _, err := (&MetaEdit{Set: map[string]string{"x-amz-tagging": "%zz"}}).Apply(nil); err == nil {
		t.Error("malformed x-amz-tagging accepted")
	}
	if FormatTagging(map[string]string{"cost centre": "42/a", "a": "&"}) != "a=%26&cost%20centre=42%2Fa" {
		t.Errorf("FormatTagging = %q", FormatTagging(map[string]string{"cost centre": "42/a", "a": "&"}))
	}
	for _, ok := range []string{"Content-Type", "x-amz-meta-a", "EXPIRES", "x-amz-tagging"} {
		if CheckHeaderName(ok) != nil {
			t.Errorf("CheckHeaderName(%q) refused", ok)
		}
	}
	for _, bad := range []string{"x-amz-meta-", "content-typo", "x-amz-storage-class", ""} {
		if CheckHeaderName(bad) == nil {
			t.Errorf("CheckHeaderName(%q) accepted", bad)
		}
	}
}
