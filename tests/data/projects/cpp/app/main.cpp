#include "../lib/cart.hpp"

int main() {
    shop::Cart cart;
    cart.add(3);
    return cart.total();
}
