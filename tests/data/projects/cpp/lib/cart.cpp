#include "cart.hpp"

namespace shop {

void Cart::add(int price) { prices_.push_back(price); }

int Cart::total() const {
    int sum = 0;
    for (int p : prices_) sum += p;
    return sum;
}

}  // namespace shop
