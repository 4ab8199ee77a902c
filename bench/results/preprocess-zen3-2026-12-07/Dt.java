import io.densenet4j.image.*;
import java.nio.file.*;
import java.util.*;
public class Dt {
  public static void main(String[] a) throws Exception {
    List<Path> ps = new ArrayList<>();
    try (var s = Files.list(Path.of(a[0]))) { s.sorted().forEach(ps::add); }
    ImageTransform tf = ImageTransform.builder().resize(256).crop(224).normalize(new float[]{0.485f,0.456f,0.406f}, new float[]{0.229f,0.224f,0.225f}).build();
    for (int rep=0; rep<Integer.parseInt(System.getProperty("reps","2")); rep++) {
      long d=0,t=0; long t0=System.nanoTime();
      for (Path p: ps) { byte[] b=Files.readAllBytes(p); long x=System.nanoTime(); Image im=ImageDecoder.decode(b, p.toString(), ColorMode.RGB); long y=System.nanoTime(); tf.apply(im); long z=System.nanoTime(); d+=y-x; t+=z-y; }
      System.out.printf("rep %d: decode %.2f ms/img transform %.2f ms/img%n", rep, d/1e6/ps.size(), t/1e6/ps.size());
    }
  }
}
