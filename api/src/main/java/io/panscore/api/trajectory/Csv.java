package io.panscore.api.trajectory;

import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * RFC 4180 CSV for the score files: {@link #quote} for the few text fields the writers emit, and
 * one reader ({@link #records}, Jackson's CSV module) for everything that reads them back (resume,
 * summaries), so a quoted field may hold commas, quotes and newlines.
 */
public final class Csv {

    private static final CsvMapper MAPPER = new CsvMapper().enable(CsvParser.Feature.WRAP_AS_ARRAY);

    private Csv() {}

    public static String quote(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    /** The records of a CSV stream, one list of fields each, read lazily (the header is a record too). */
    public static Iterator<List<String>> records(Reader in) throws IOException {
        MappingIterator<String[]> it = MAPPER.readerFor(String[].class).with(CsvSchema.emptySchema()).readValues(in);
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                try {
                    return it.hasNextValue();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }

            @Override
            public List<String> next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                try {
                    return Arrays.asList(it.nextValue());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        };
    }

    /** The fields of one CSV record (which may span lines inside quotes). */
    public static List<String> parse(String record) {
        try {
            Iterator<List<String>> it = records(new StringReader(record));
            return it.hasNext() ? new ArrayList<>(it.next()) : List.of("");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
