package com.acme.shop;

import com.acme.util.Strings;
import static com.acme.util.MathUtil.clamp;
import com.acme.model.*;

import java.util.ArrayList;
import java.util.List;

public class Cart {
    private final List<Item> items = new ArrayList<>();

    public String describe(int width) {
        int safe = clamp(width, 1, 80);
        return Strings.padLeft("cart", safe);
    }
}
