#include "jsonv.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "names.h"
#include "util.h"

#define JV_MAX_DEPTH 32

char *
jpath_to_string(const struct jpath *path)
{
    if (!path || !path->parent) {
        return vnet_xstrdup("$");
    }
    char *parent = jpath_to_string(path->parent);
    char *s = (path->key
               ? vnet_xasprintf("%s.%s", parent, path->key)
               : vnet_xasprintf("%s[%d]", parent, path->index));
    free(parent);
    return s;
}

char *
jv_describe(struct json_object *value)
{
    if (!value) {
        return vnet_xstrdup("nothing");
    }
    switch (json_object_get_type(value)) {
    case json_type_object:
        return vnet_xstrdup("an object");
    case json_type_array:
        return vnet_xasprintf("an array of %zu",
                              json_object_array_length(value));
    case json_type_null:
        return vnet_xstrdup("null");
    default: {
        const char *text = json_object_to_json_string_ext(
            value, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t len = strlen(text);
        return len > 40 ? vnet_xasprintf("%.37s...", text) : vnet_xstrdup(text);
    }
    }
}

struct vnet_error *
jv_error(const struct jpath *path, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *msg = vnet_xvasprintf(fmt, args);
    va_end(args);
    char *where = jpath_to_string(path);
    struct vnet_error *error = vnet_error_create(VNET_ERR_INVALID, "%s: %s", where, msg);
    free(where);
    free(msg);
    return error;
}

struct vnet_error *
jv_error_expected(const struct jpath *path, const char *what, struct json_object *got)
{
    char *desc = jv_describe(got);
    struct vnet_error *error = jv_error(path, "expected %s, got %s", what, desc);
    free(desc);
    return error;
}

struct vnet_error *
jv_check_object(struct json_object *obj, const struct jpath *path,
                const char *const allowed[])
{
    if (!json_object_is_type(obj, json_type_object)) {
        return jv_error_expected(path, "an object", obj);
    }
    json_object_object_foreach(obj, key, value) {
        (void) value;
        bool known = false;
        for (size_t i = 0; allowed && allowed[i]; i++) {
            if (!strcmp(key, allowed[i])) {
                known = true;
                break;
            }
        }
        if (!known) {
            struct jpath member = JPATH_KEY(path, key);
            char *list = vnet_xstrdup("");
            for (size_t i = 0; allowed && allowed[i]; i++) {
                char *more = vnet_xasprintf("%s%s%s", list, i ? ", " : "", allowed[i]);
                free(list);
                list = more;
            }
            struct vnet_error *error = jv_error(&member, "unknown field (expected one "
                                                "of: %s)", list);
            free(list);
            return error;
        }
    }
    return NULL;
}

struct vnet_error *
jv_get_member(struct json_object *obj, const struct jpath *path, const char *key,
              bool required, struct json_object **ret)
{
    struct json_object *value;
    if (!json_object_is_type(obj, json_type_object)) {
        return jv_error_expected(path, "an object", obj);
    }
    if (!json_object_object_get_ex(obj, key, &value)) {
        if (required) {
            struct jpath member = JPATH_KEY(path, key);
            return jv_error(&member, "required field is missing");
        }
        return NULL;
    }
    *ret = value;
    return NULL;
}

struct vnet_error *
jv_as_string(struct json_object *value, const struct jpath *path, const char **ret)
{
    if (!json_object_is_type(value, json_type_string)) {
        return jv_error_expected(path, "a string", value);
    }
    *ret = json_object_get_string(value);
    return NULL;
}

struct vnet_error *
jv_as_name(struct json_object *value, const struct jpath *path, const char **ret)
{
    const char *s;
    /* A NUL inside the JSON string would let "fw\u0000x" pass as "fw". */
    if (!json_object_is_type(value, json_type_string)
        || !vnet_name_valid(s = json_object_get_string(value))
        || strlen(s) != (size_t) json_object_get_string_len(value)) {
        return jv_error_expected(path, "a name matching " VNET_NAME_RULE, value);
    }
    *ret = s;
    return NULL;
}

#define GET_MEMBER(OBJ, PATH, KEY, REQUIRED)                                \
    struct json_object *value = NULL;                                       \
    struct vnet_error *error_ = jv_get_member(OBJ, PATH, KEY, REQUIRED, &value); \
    if (error_ || !value) {                                                 \
        return error_;                                                      \
    }                                                                       \
    struct jpath member = JPATH_KEY(PATH, KEY)

struct vnet_error *
jv_get_string(struct json_object *obj, const struct jpath *path, const char *key,
              bool required, const char **ret)
{
    GET_MEMBER(obj, path, key, required);
    return jv_as_string(value, &member, ret);
}

struct vnet_error *
jv_get_name(struct json_object *obj, const struct jpath *path, const char *key,
            bool required, const char **ret)
{
    GET_MEMBER(obj, path, key, required);
    return jv_as_name(value, &member, ret);
}

struct vnet_error *
jv_get_int(struct json_object *obj, const struct jpath *path, const char *key,
           bool required, int64_t min, int64_t max, int64_t *ret)
{
    GET_MEMBER(obj, path, key, required);
    int64_t v;
    if (!json_object_is_type(value, json_type_int)
        || (v = json_object_get_int64(value), v < min || v > max)) {
        char *what = vnet_xasprintf("integer %lld..%lld", (long long) min,
                                    (long long) max);
        struct vnet_error *error = jv_error_expected(&member, what, value);
        free(what);
        return error;
    }
    *ret = v;
    return NULL;
}

struct vnet_error *
jv_get_double(struct json_object *obj, const struct jpath *path, const char *key,
              bool required, double min, double max, double *ret)
{
    GET_MEMBER(obj, path, key, required);
    double v = 0;
    bool numeric = (json_object_is_type(value, json_type_int)
                    || json_object_is_type(value, json_type_double));
    if (numeric) {
        v = json_object_get_double(value);
    }
    if (!numeric || !isfinite(v) || v < min || v > max) {
        char *what = vnet_xasprintf("number %g..%g", min, max);
        struct vnet_error *error = jv_error_expected(&member, what, value);
        free(what);
        return error;
    }
    *ret = v;
    return NULL;
}

struct vnet_error *
jv_get_bool(struct json_object *obj, const struct jpath *path, const char *key,
            bool required, bool *ret)
{
    GET_MEMBER(obj, path, key, required);
    if (!json_object_is_type(value, json_type_boolean)) {
        return jv_error_expected(&member, "true or false", value);
    }
    *ret = json_object_get_boolean(value);
    return NULL;
}

struct vnet_error *
jv_get_array(struct json_object *obj, const struct jpath *path, const char *key,
             bool required, size_t min_len, size_t max_len, struct json_object **ret)
{
    GET_MEMBER(obj, path, key, required);
    size_t len;
    if (!json_object_is_type(value, json_type_array)
        || (len = json_object_array_length(value), len < min_len || len > max_len)) {
        char *what = (min_len == max_len
                      ? vnet_xasprintf("an array of %zu", min_len)
                      : vnet_xasprintf("an array of %zu..%zu elements", min_len, max_len));
        struct vnet_error *error = jv_error_expected(&member, what, value);
        free(what);
        return error;
    }
    *ret = value;
    return NULL;
}

static struct vnet_error *
parse_error(const char *text, size_t len, size_t offset, const char *what)
{
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return vnet_error_create(VNET_ERR_INVALID, "invalid JSON at line %u, column %u: %s",
                             line, col, what);
}

struct vnet_error *
jv_parse(const char *text, size_t len, struct json_object **ret)
{
    if (len > INT32_MAX) {
        return vnet_error_create(VNET_ERR_INVALID, "document too large");
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        return parse_error(text, len, (size_t) (nul - text), "NUL byte in JSON text");
    }
    struct json_tokener *tok = json_tokener_new_ex(JV_MAX_DEPTH);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *obj = json_tokener_parse_ex(tok, text, (int) len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t offset = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* A top-level number needs a terminator to be complete: give it the NUL
         * that ends the input. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        offset = len;
    }
    json_tokener_free(tok);

    /* 'text' need not be NUL-terminated: stay within 'len'. */
    size_t first = 0;
    while (first < len && strchr(" \t\r\n", text[first])) {
        first++;
    }
    if (first >= len) {
        json_object_put(obj);
        return parse_error(text, len, len, "empty document");
    }
    if (jerr == json_tokener_continue || jerr == json_tokener_error_parse_eof) {
        json_object_put(obj);
        return parse_error(text, len, len, "unexpected end of input");
    }
    if (jerr != json_tokener_success) {
        json_object_put(obj);
        return parse_error(text, len, offset, json_tokener_error_desc(jerr));
    }
    while (offset < len && strchr(" \t\r\n", text[offset])) {
        offset++;
    }
    if (offset < len) {
        json_object_put(obj);
        return parse_error(text, len, offset, "trailing data after the JSON value");
    }
    *ret = obj;
    return NULL;
}
