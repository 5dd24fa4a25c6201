package dev.bptt4j.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The rules ElementMath shares with bptt4j_math.cuh, checked on the Java side alone. */
class ElementMathTest {
    @Test
    void nanGoesInNanComesOut() {
        for (int activation : new int[] {ElementMath.ACTIVATION_TANH, ElementMath.ACTIVATION_RELU}) {
            assertTrue(Double.isNaN(ElementMath.activate(Double.NaN, activation)));
            assertTrue(Float.isNaN(ElementMath.activate(Float.NaN, activation)));
            assertTrue(Double.isNaN(ElementMath.activationGradFromOutput(Double.NaN, activation)));
            assertTrue(Float.isNaN(ElementMath.activationGradFromOutput(Float.NaN, activation)));
            assertTrue(Double.isNaN(ElementMath.activationGradFromPreactivation(Double.NaN, activation)));
            assertTrue(Float.isNaN(ElementMath.activationGradFromPreactivation(Float.NaN, activation)));
        }
        assertTrue(Double.isNaN(ElementMath.sigmoid(Double.NaN)));
        assertTrue(Float.isNaN(ElementMath.sigmoid(Float.NaN)));
    }

    @Test
    void reluAtZeroAndSigns() {
        assertEquals(0L, Double.doubleToRawLongBits(ElementMath.relu(-0.0)), "relu(-0) is +0");
        assertEquals(0, Float.floatToRawIntBits(ElementMath.relu(-0.0f)), "relu(-0f) is +0");
        assertEquals(0.0, ElementMath.reluGrad(0.0));
        assertEquals(0.0f, ElementMath.reluGrad(-0.0f));
        assertEquals(1.0, ElementMath.reluGrad(Double.MIN_VALUE));
        assertEquals(0.0, ElementMath.reluGrad(Double.NEGATIVE_INFINITY));
        assertEquals(3.5f, ElementMath.relu(3.5f));
        assertEquals(0.0, ElementMath.relu(-1e300));
    }

    @Test
    void tanhGradientFromPreactivationIsTheGradientFromItsOutput() {
        for (double z : new double[] {-20, -0.7, -1e-12, 0, 0.3, 1, 19.5}) {
            assertEquals(ElementMath.tanhGradFromOutput(ElementMath.tanh(z)), ElementMath.activationGradFromPreactivation(z, 0));
            float f = (float) z;
            assertEquals(ElementMath.tanhGradFromOutput(ElementMath.tanh(f)), ElementMath.activationGradFromPreactivation(f, 0));
        }
        assertEquals(0.0, ElementMath.activationGradFromPreactivation(20.0, 0), "tanh(20) rounds to 1");
    }

    @Test
    void sigmoidSaturatesWithoutNaN() {
        assertEquals(0.0f, ElementMath.sigmoid(-200f));
        assertEquals(1.0f, ElementMath.sigmoid(200f));
        assertEquals(0.0, ElementMath.sigmoid(Double.NEGATIVE_INFINITY));
        assertEquals(1.0, ElementMath.sigmoid(Double.POSITIVE_INFINITY));
        assertEquals(0.5, ElementMath.sigmoid(0.0));
    }

    @Test
    void unknownActivationCodesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> ElementMath.activate(0.5, 2));
        assertThrows(IllegalArgumentException.class, () -> ElementMath.activationGradFromOutput(0.5f, -1));
    }
}
