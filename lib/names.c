#include "names.h"

#include <string.h>

bool
vnet_name_valid(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len < 1 || len > VNET_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i);
        if (!ok) {
            return false;
        }
    }
    return true;
}
