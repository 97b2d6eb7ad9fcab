package main

// A JSON Schema (draft-07) checker for the subset values.schema.json uses, so the renderer can
// refuse bad values as `helm install` does. A keyword outside the subset is an error, never
// silently ignored: a schema that grows past what this checks fails the tests instead of
// passing them unchecked.

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

var supportedKeywords = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true,
	"default": true, "examples": true, "definitions": true, "$ref": true,
	"type": true, "enum": true, "const": true,
	"properties": true, "additionalProperties": true, "required": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true,
	"minLength": true, "maxLength": true, "pattern": true,
	"items": true, "minItems": true, "maxItems": true, "uniqueItems": true,
	"anyOf": true, "oneOf": true,
}

type schemaChecker struct {
	root map[string]interface{}
	errs []string
}

func validateSchema(raw []byte, values map[string]interface{}) []string {
	var root map[string]interface{}
	if err := json.Unmarshal(raw, &root); err != nil {
		return []string{"values.schema.json: " + err.Error()}
	}
	c := &schemaChecker{root: root}
	c.check(root, values, "")
	sort.Strings(c.errs)
	return c.errs
}

func (c *schemaChecker) fail(at, format string, args ...interface{}) {
	if at == "" {
		at = "(root)"
	}
	c.errs = append(c.errs, at+": "+fmt.Sprintf(format, args...))
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func (c *schemaChecker) resolve(ref string) (map[string]interface{}, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur interface{} = c.root
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil, false
		}
		cur = m[part]
	}
	m, ok := cur.(map[string]interface{})
	return m, ok
}

func typeOf(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case map[string]interface{}:
		return "object"
	case []interface{}:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func typeMatches(want, got string) bool {
	return want == got || (want == "number" && got == "integer")
}

// matches reports whether v satisfies s, without recording errors.
func (c *schemaChecker) matches(s map[string]interface{}, v interface{}, at string) bool {
	sub := &schemaChecker{root: c.root}
	sub.check(s, v, at)
	for _, e := range sub.errs {
		if strings.Contains(e, "unsupported schema keyword") {
			c.errs = append(c.errs, e)
		}
	}
	return len(sub.errs) == 0
}

func (c *schemaChecker) check(s map[string]interface{}, v interface{}, at string) {
	for k := range s {
		if !supportedKeywords[k] {
			c.fail(at, "unsupported schema keyword %q (extend tests/chart/render/schema.go)", k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		target, ok := c.resolve(ref)
		if !ok {
			c.fail(at, "unresolvable $ref %q", ref)
			return
		}
		c.check(target, v, at)
	}
	got := typeOf(v)
	switch want := s["type"].(type) {
	case string:
		if !typeMatches(want, got) {
			c.fail(at, "invalid type. Expected: %s, given: %s", want, got)
			return
		}
	case []interface{}:
		ok := false
		var names []string
		for _, w := range want {
			names = append(names, fmt.Sprint(w))
			if typeMatches(fmt.Sprint(w), got) {
				ok = true
			}
		}
		if !ok {
			c.fail(at, "invalid type. Expected: %s, given: %s", strings.Join(names, " or "), got)
			return
		}
	}
	if enum, ok := s["enum"].([]interface{}); ok {
		found := false
		for _, e := range enum {
			if reflect.DeepEqual(e, v) {
				found = true
			}
		}
		if !found {
			j, _ := json.Marshal(enum)
			c.fail(at, "must be one of the following: %s", j)
		}
	}
	if cv, ok := s["const"]; ok && !reflect.DeepEqual(cv, v) {
		j, _ := json.Marshal(cv)
		c.fail(at, "does not match: %s", j)
	}
	if anyOf, ok := s["anyOf"].([]interface{}); ok {
		n := 0
		for _, alt := range anyOf {
			if m, ok := alt.(map[string]interface{}); ok && c.matches(m, v, at) {
				n++
			}
		}
		if n == 0 {
			c.fail(at, "must validate at least one schema (anyOf)")
		}
	}
	if oneOf, ok := s["oneOf"].([]interface{}); ok {
		n := 0
		for _, alt := range oneOf {
			if m, ok := alt.(map[string]interface{}); ok && c.matches(m, v, at) {
				n++
			}
		}
		if n != 1 {
			c.fail(at, "must validate one and only one schema (oneOf), matched %d", n)
		}
	}

	switch x := v.(type) {
	case float64:
		if m, ok := s["minimum"].(float64); ok && x < m {
			c.fail(at, "must be greater than or equal to %v", m)
		}
		if m, ok := s["maximum"].(float64); ok && x > m {
			c.fail(at, "must be less than or equal to %v", m)
		}
		if m, ok := s["exclusiveMinimum"].(float64); ok && x <= m {
			c.fail(at, "must be greater than %v", m)
		}
		if m, ok := s["exclusiveMaximum"].(float64); ok && x >= m {
			c.fail(at, "must be less than %v", m)
		}
	case string:
		n := float64(len([]rune(x)))
		if m, ok := s["minLength"].(float64); ok && n < m {
			c.fail(at, "string length must be greater than or equal to %v", m)
		}
		if m, ok := s["maxLength"].(float64); ok && n > m {
			c.fail(at, "string length must be less than or equal to %v", m)
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				c.fail(at, "bad pattern %q in schema: %v", p, err)
			} else if !re.MatchString(x) {
				c.fail(at, "does not match pattern '%s'", p)
			}
		}
	case []interface{}:
		n := float64(len(x))
		if m, ok := s["minItems"].(float64); ok && n < m {
			c.fail(at, "array must have at least %v items", m)
		}
		if m, ok := s["maxItems"].(float64); ok && n > m {
			c.fail(at, "array must have at most %v items", m)
		}
		if u, ok := s["uniqueItems"].(bool); ok && u {
			for i := range x {
				for j := i + 1; j < len(x); j++ {
					if reflect.DeepEqual(x[i], x[j]) {
						c.fail(at, "array items %d and %d are equal; items must be unique", i, j)
					}
				}
			}
		}
		if items, ok := s["items"].(map[string]interface{}); ok {
			for i, e := range x {
				c.check(items, e, fmt.Sprintf("%s.%d", at, i))
			}
		}
	case map[string]interface{}:
		props, _ := s["properties"].(map[string]interface{})
		if req, ok := s["required"].([]interface{}); ok {
			for _, r := range req {
				if _, ok := x[fmt.Sprint(r)]; !ok {
					c.fail(at, "%s is required", r)
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]interface{}); ok {
				c.check(ps, x[k], join(at, k))
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					c.fail(at, "additional property %s is not allowed", k)
				}
			case map[string]interface{}:
				c.check(ap, x[k], join(at, k))
			}
		}
	}
}
