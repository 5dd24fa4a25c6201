package dev.bptt4j.demo;

import dev.bptt4j.charlm.CharModelSettings;
import dev.bptt4j.charlm.CharModelTrainer;
import dev.bptt4j.charlm.CharText;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * The text demo: {@code bptt4j train} on the bundled King James text (Genesis and Exodus) with
 * the default settings ({@link CharModelSettings#defaults()}: one tanh layer of 128, 32 streams,
 * k = 32, Adam, a minute), sampling after "And God said".
 */
public final class CharLanguageModelDemo {
    public static final String TEXT_RESOURCE = "/demo/kjv-genesis-exodus.txt";
    public static final String PROMPT = "And God said";

    private CharLanguageModelDemo() {
    }

    public static String bundledText() throws IOException {
        try (InputStream in = CharLanguageModelDemo.class.getResourceAsStream(TEXT_RESOURCE)) {
            if (in == null) throw new IOException("demo text " + TEXT_RESOURCE + " is missing from the jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The demo's settings: the defaults, and its prompt. */
    public static CharModelSettings settings() {
        return CharModelSettings.defaults().withPrompt(PROMPT);
    }

    /** A trainer on the bundled text with {@code settings} (usually {@link #settings()}, perhaps with another budget or width). */
    public static CharModelTrainer trainer(CharModelSettings settings) throws IOException {
        return new CharModelTrainer(CharText.of(bundledText(), TEXT_RESOURCE.substring(TEXT_RESOURCE.lastIndexOf('/') + 1)), settings)
                .describedAs(TEXT_RESOURCE.substring(1), "the KJV");
    }
}
