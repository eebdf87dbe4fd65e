#pragma once
#include <vector>

namespace shop {

// A cart of prices.
class Cart {
public:
    void add(int price);
    int total() const;

private:
    std::vector<int> prices_;
};

}  // namespace shop
