#include <stdio.h>
#include <shop/item.h>
#include "util.h"

int main(void) {
    struct item it = {"a", 100};
    printf("%d\n", clamp_int(item_gross(&it), 0, MAX_ITEMS));
    return 0;
}
