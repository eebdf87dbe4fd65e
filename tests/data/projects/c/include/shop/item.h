#ifndef SHOP_ITEM_H
#define SHOP_ITEM_H

/* One product. */
struct item {
    const char *sku;
    int price;
};

/* Price in cents including tax. */
int item_gross(const struct item *it);

#endif
