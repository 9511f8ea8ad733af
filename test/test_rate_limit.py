"""Log rate limiting per message kind."""

from seg_perception.rate_limit import message_kind, RateLimiter


def test_same_kind_is_suppressed_within_the_period_and_counted():
    now = [0.0]
    limiter = RateLimiter(5.0, clock=lambda: now[0])
    assert limiter.allow('a') == 0
    assert limiter.allow('a') is None
    assert limiter.allow('b') == 0  # another kind is not held back
    now[0] = 4.9
    assert limiter.allow('a') is None
    now[0] = 5.0
    assert limiter.allow('a') == 2


def test_messages_differing_only_in_numbers_are_one_kind():
    assert message_kind('data has 10 bytes, expected 20') == \
        message_kind('data has 7 bytes, expected 300')
    assert message_kind('zero size (0x5)') != message_kind('truncated (5x5)')
