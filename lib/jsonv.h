/* jsonv.h -- reading user-supplied JSON with errors that say where and what.
 *
 * Every accessor takes the path of the enclosing value ('struct jpath', a chain of
 * stack-allocated links) and, on failure, returns an error such as
 *     $.nodes[1].cpus: expected integer 1..64, got "two"
 * Callers prepend the file name with vnet_error_wrap().  On success the accessors
 * return NULL and store the value in '*ret' (borrowed from the JSON tree); on failure
 * '*ret' is untouched.  An optional field that is absent also returns NULL and leaves
 * '*ret' untouched, so callers preset defaults. */
#ifndef VNET_JSONV_H
#define VNET_JSONV_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct vnet_error;

struct jpath {
    const struct jpath *parent;
    const char *key;      /* member name, or NULL for an array element */
    int index;            /* array index when 'key' is NULL; -1 for the root */
};
#define JPATH_ROOT { NULL, NULL, -1 }
#define JPATH_KEY(PARENT, KEY) { (PARENT), (KEY), -1 }
#define JPATH_INDEX(PARENT, INDEX) { (PARENT), NULL, (int) (INDEX) }

/* Returns the path as text, e.g. "$.nodes[1].cpus" (caller frees). */
char *jpath_to_string(const struct jpath *);

/* Returns a short rendering of a value for messages: "two" in quotes, 3, an object
 * abbreviated, or "nothing" for NULL (caller frees). */
char *jv_describe(struct json_object *);

/* "<path>: expected <what>, got <value>". */
struct vnet_error *jv_error_expected(const struct jpath *, const char *what,
                                     struct json_object *got);
struct vnet_error *jv_error(const struct jpath *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Checks that 'obj' is an object whose members are all named in 'allowed'
 * (NULL-terminated). */
struct vnet_error *jv_check_object(struct json_object *obj, const struct jpath *,
                                   const char *const allowed[]);

struct vnet_error *jv_get_member(struct json_object *obj, const struct jpath *,
                                 const char *key, bool required,
                                 struct json_object **ret);
struct vnet_error *jv_get_string(struct json_object *obj, const struct jpath *,
                                 const char *key, bool required, const char **ret);
/* A string restricted to the name rule of names.h. */
struct vnet_error *jv_get_name(struct json_object *obj, const struct jpath *,
                               const char *key, bool required, const char **ret);
struct vnet_error *jv_get_int(struct json_object *obj, const struct jpath *,
                              const char *key, bool required, int64_t min,
                              int64_t max, int64_t *ret);
struct vnet_error *jv_get_double(struct json_object *obj, const struct jpath *,
                                 const char *key, bool required, double min,
                                 double max, double *ret);
struct vnet_error *jv_get_bool(struct json_object *obj, const struct jpath *,
                               const char *key, bool required, bool *ret);
/* An array with between 'min_len' and 'max_len' elements. */
struct vnet_error *jv_get_array(struct json_object *obj, const struct jpath *,
                                const char *key, bool required, size_t min_len,
                                size_t max_len, struct json_object **ret);

/* Value checks for an element already in hand (e.g. array members). */
struct vnet_error *jv_as_string(struct json_object *, const struct jpath *,
                                const char **ret);
struct vnet_error *jv_as_name(struct json_object *, const struct jpath *,
                              const char **ret);

/* Parses 'text' (of 'len' bytes) as one JSON value with bounded nesting; trailing
 * garbage is an error.  Returns NULL and '*ret' (caller puts it), or an error that
 * gives the line and column. */
struct vnet_error *jv_parse(const char *text, size_t len, struct json_object **ret);

#endif
