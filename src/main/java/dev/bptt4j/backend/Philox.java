package dev.bptt4j.backend;

/**
 * Philox4x32-10, the counter-based random generator of Salmon, Moraes, Dror and Shaw, "Parallel
 * random numbers: as easy as 1, 2, 3" (SC'11), as in their Random123 library: a 128-bit counter
 * (c0..c3) and a 64-bit key (k0, k1) go through 10 rounds of a keyed bijection and come out as
 * four 32-bit words. The same counter and key give the same words on every machine, in any order
 * and on any thread, so a dropout mask can be drawn element by element and be bitwise the same on
 * the CPU, the emulated GPU and a real GPU.
 *
 * <p>{@code cuda/philox.cuh} is this class's twin, line for line, for the kernels; the host test
 * {@code PhiloxTest} compiles that header with a host compiler and holds its words against these.
 *
 * <p>One round, with the multipliers {@code M0 = 0xD2511F53}, {@code M1 = 0xCD9E8D57}:
 * {@code (hi0, lo0) = mulhilo(M0, c0)}, {@code (hi1, lo1) = mulhilo(M1, c2)}, then
 * {@code c = {hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0}}. Between rounds the key is bumped by the
 * Weyl increments {@code k0 += 0x9E3779B9}, {@code k1 += 0xBB67AE85}; the first round uses the key
 * as given (so 9 bumps in all). All words are unsigned 32-bit values held in Java {@code int}s:
 * addition and XOR wrap exactly as C's {@code unsigned int} does, and the 64-bit product is taken
 * on the unsigned values ({@link Integer#toUnsignedLong}), which fits a {@code long}'s 64 bits.
 *
 * <p>Nothing here allocates: {@link #word} works in locals and {@link #block} writes into the
 * caller's array.
 */
public final class Philox {
    /** Round multipliers (Random123's PHILOX_M4x32_0 and _1). */
    static final int M0 = 0xD2511F53;
    static final int M1 = 0xCD9E8D57;
    /** Weyl key increments (Random123's PHILOX_W32_0 and _1: golden ratio and sqrt(3) - 1). */
    static final int W0 = 0x9E3779B9;
    static final int W1 = 0xBB67AE85;
    /** Rounds: 10, Random123's default and the variant its known-answer vectors call philox4x32_10. */
    public static final int ROUNDS = 10;
    /** 2^-32, exactly: {@link #uniform} scales a word by it. */
    static final double TWO_POW_MINUS_32 = 0x1p-32;

    private static final long MASK = 0xFFFF_FFFFL;

    private Philox() {}

    /**
     * Word {@code index} (0..3) of philox4x32-10 for counter (c0, c1, c2, c3) and key (k0, k1).
     * Each call runs all 10 rounds; to use all four words of one counter, call {@link #block}.
     *
     * @throws IllegalArgumentException if index is not 0..3 (the CUDA twin has no exceptions and
     *     returns word 3 for any index other than 0, 1, 2; callers there pass 0..3 only)
     */
    public static int word(int c0, int c1, int c2, int c3, int k0, int k1, int index) {
        for (int round = 0; round < ROUNDS; round++) {
            if (round > 0) {
                k0 += W0;
                k1 += W1;
            }
            long p0 = (M0 & MASK) * (c0 & MASK);
            long p1 = (M1 & MASK) * (c2 & MASK);
            int hi0 = (int) (p0 >>> 32), lo0 = (int) p0;
            int hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
        }
        switch (index) {
            case 0: return c0;
            case 1: return c1;
            case 2: return c2;
            case 3: return c3;
            default: throw new IllegalArgumentException("Philox word index " + index + ": expected 0..3");
        }
    }

    /**
     * All four words of philox4x32-10 for {@code counter} (4 words) and {@code key} (2 words),
     * into {@code out[0..3]}. {@code out} may be {@code counter} itself.
     */
    public static void block(int[] counter, int[] key, int[] out) {
        int c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
        int k0 = key[0], k1 = key[1];
        for (int round = 0; round < ROUNDS; round++) {
            if (round > 0) {
                k0 += W0;
                k1 += W1;
            }
            long p0 = (M0 & MASK) * (c0 & MASK);
            long p1 = (M1 & MASK) * (c2 & MASK);
            int hi0 = (int) (p0 >>> 32), lo0 = (int) p0;
            int hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }

    /**
     * A word as a uniform double in [0, 1): the word read as an unsigned 32-bit integer w, times
     * 2^-32, i.e. {@code w * 0x1p-32}. Both steps are exact in double (w has 32 significant bits at
     * most and the scale is a power of two), so CUDA's {@code (double)w * 0x1p-32} gives the same
     * bits. The values are the multiples of 2^-32 from 0 up to 1 - 2^-32; 1 is never returned.
     */
    public static double uniform(int word) {
        return (double) Integer.toUnsignedLong(word) * TWO_POW_MINUS_32;
    }
}
