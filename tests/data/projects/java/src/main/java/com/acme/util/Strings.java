package com.acme.util;

/** String helpers. */
public final class Strings {
    private Strings() {}

    /** Pads `value` on the left. */
    public static String padLeft(String value, int width) {
        return String.format("%" + width + "s", value);
    }
}
