package com.acme.util;

public final class MathUtil {
    public static int clamp(int value, int low, int high) {
        return Math.max(low, Math.min(high, value));
    }
}
