package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Field describes one leaf setting: where it lives and how it may be set.
type Field struct {
	Path   string   // yaml key path, e.g. "http.addr"
	Env    string   // environment variable, e.g. "CODEXION_HTTP_ADDR"
	Flag   string   // command-line flag without dashes, e.g. "http.addr"
	Help   string   // one line for --help and the docs table
	Secret bool     // never printed or logged
	OneOf  []string // allowed values, when the set is closed

	value reflect.Value
}

// Fields lists every leaf setting of c in declaration order. The values are bound to c,
// so setting a field through the returned list changes c.
func Fields(c *Config) []Field {
	var out []Field
	walk(reflect.ValueOf(c).Elem(), "", &out)
	return out
}

func walk(v reflect.Value, prefix string, out *[]Field) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		key := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		fv := v.Field(i)
		if sf.Type.Kind() == reflect.Struct && sf.Type != reflect.TypeFor[time.Duration]() {
			walk(fv, path, out)
			continue
		}
		f := Field{
			Path:   path,
			Env:    "CODEXION_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(path)),
			Flag:   path,
			Help:   sf.Tag.Get("help"),
			Secret: sf.Tag.Get("secret") == "true",
			value:  fv,
		}
		if env := sf.Tag.Get("env"); env != "" {
			f.Env = env
		}
		if oneOf := sf.Tag.Get("oneof"); oneOf != "" {
			f.OneOf = strings.Split(oneOf, ",")
		}
		*out = append(*out, f)
	}
}

// Set parses s into the field. The error says what kind of value was expected.
func (f Field) Set(s string) error {
	v := f.value
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a duration (write it like 500ms, 30s or 5m)", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a boolean (use true or false)", s)
		}
		v.SetBool(b)
	case v.Kind() >= reflect.Int && v.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported setting type %s", v.Type())
	}
	return nil
}

// SetList sets a list-valued field from separate items.
func (f Field) SetList(items []string) error {
	if f.value.Kind() != reflect.Slice {
		return fmt.Errorf("expected a single value, not a list")
	}
	f.value.Set(reflect.ValueOf(append([]string(nil), items...)))
	return nil
}

// IsList reports whether the field holds a list.
func (f Field) IsList() bool { return f.value.Kind() == reflect.Slice }

// String renders the current value the way Set accepts it.
func (f Field) String() string {
	v := f.value
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		return time.Duration(v.Int()).String()
	case v.Kind() == reflect.Slice:
		return strings.Join(v.Interface().([]string), ",")
	default:
		return fmt.Sprint(v.Interface())
	}
}
