"""Vietnamese text helpers: the search words and the alphabetical order (procedures/text.py)."""

from procedures.text import search_words, sort_key, sort_string

FIELDS_IN_ORDER = [
    "An ninh",
    "Ăn uống",
    "Bảo trợ xã hội",
    "Chứng thực",
    "Công thương",
    "Dân tộc",
    "Đất đai",
    "Giáo dục",
    "Hộ tịch",
    "Thủy sản",
    "Tư pháp",
    "Xây dựng",
    "Y tế",
]


def test_vietnamese_alphabetical_order():
    shuffled = sorted(FIELDS_IN_ORDER, key=lambda name: name[::-1])

    assert sorted(shuffled, key=sort_key) == FIELDS_IN_ORDER
    assert sorted(shuffled) != FIELDS_IN_ORDER  # code-point order puts "Đất đai" after "Y tế"


def test_tones_order_after_the_letters():
    assert sorted(["bạ", "bá", "bã", "bả", "bà", "ba"], key=sort_key) == ["ba", "bà", "bả", "bã", "bá", "bạ"]
    assert sorted(["anh", "an toàn"], key=sort_key) == ["an toàn", "anh"]
    assert sort_key("ĐẤT ĐAI") == sort_key("đất đai")


def test_the_sort_string_keeps_the_order_for_a_database_column():
    shuffled = sorted(FIELDS_IN_ORDER, key=len)

    assert sorted(shuffled, key=sort_string) == FIELDS_IN_ORDER
    assert set("".join(map(sort_string, FIELDS_IN_ORDER))) <= set("0123456789abcdefghijklmnopqrstuvwxyz")


def test_search_words_unify_i_and_y_after_a_consonant_only():
    assert search_words("Đăng kí") == search_words("đăng ký") == ["dang", "ki"]
    assert search_words("lí lịch mĩ thuật quý") == search_words("lý lịch mỹ thuật quí")
    assert search_words("y tế giấy tuyển hay") == ["y", "te", "giay", "tuyen", "hay"]
    assert search_words("mã 1.001193") == ["ma", "1.001193"]
