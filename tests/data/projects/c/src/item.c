#include "shop/item.h"

int item_gross(const struct item *it) {
    return it->price * 12 / 10;
}
